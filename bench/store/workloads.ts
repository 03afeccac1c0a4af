/**
 * The three workloads the store benchmark compares, each on its own database file:
 *
 *   raw      one-row INSERT transactions: what SQLite can commit at all
 *   minimal  the least a claim→complete cycle can be: 3 statements in 2 transactions
 *   store    the same cycle through SqliteStore: claimTasks(…, 1, …) → completeTask
 *
 * minimal and store get tasks of the same shape: runs of CHAINS parallel
 * chains (task i depends on task i - CHAINS), so each completion but the last
 * of a chain makes exactly one dependent ready, and CHAINS tasks per run are
 * ready at any time: more than enough for 4 processes.
 */
import type { Database } from "bun:sqlite";
import type { WorkplanInput } from "../../src/core/workplan.ts";
import { Checkpointer, disableAutoCheckpoint } from "../../src/store/sqlite/checkpoints.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { writeTransaction, type TransactionStatements } from "../../src/store/sqlite/writeLock.ts";
import { openPlain } from "../lib/sqlite.ts";

export const KINDS = ["raw", "minimal", "store"] as const;
export type Kind = (typeof KINDS)[number];

export function isKind(value: string | undefined): value is Kind {
  return (KINDS as readonly string[]).includes(value ?? "");
}

/**
 * One claim→complete cycle, bound to one connection and one worker name.
 * `claim` resolves to the completion to run next, or null when nothing is
 * ready (the supply ran out). For raw, the claim is the whole transaction
 * and the completion does nothing.
 */
export interface Cycle {
  claim(): Promise<(() => Promise<void>) | null>;
  close(): void;
}

const CHAINS = 20;
const LEASE_MS = 30_000;
const LOCK_TIMEOUT_MS = 30_000;

/** Creates the database of a workload with `tasks` tasks (in whole runs) before anything is timed. */
export async function prepare(kind: Kind, path: string, tasks: number, runSize: number): Promise<void> {
  const runs = Math.ceil(tasks / runSize);
  if (kind === "store") {
    const store = new SqliteStore(path, {});
    const plan = chainPlan(runSize);
    for (let run = 0; run < runs; run++) await store.createRun(plan);
    store.close();
    return;
  }
  const db = openPlain(path);
  if (kind === "raw") {
    db.run("CREATE TABLE writes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  } else {
    db.run(`CREATE TABLE tasks (
      id INTEGER PRIMARY KEY, state TEXT NOT NULL, owner TEXT, expires INTEGER,
      pending INTEGER NOT NULL, next INTEGER)`);
    db.run("CREATE INDEX tasks_ready ON tasks (id) WHERE state = 'ready'");
    const insert = db.prepare("INSERT INTO tasks (id, state, pending, next) VALUES (?, ?, ?, ?)");
    db.transaction(() => {
      for (let run = 0; run < runs; run++) {
        for (let i = 0; i < runSize; i++) {
          const id = run * runSize + i + 1;
          const first = i < CHAINS;
          insert.run(id, first ? "ready" : "blocked", first ? 0 : 1, i + CHAINS < runSize ? id + CHAINS : null);
        }
      }
    })();
  }
  db.close();
}

/** A workplan of no-op tasks in CHAINS parallel chains, the shape the minimal table mirrors. */
function chainPlan(runSize: number): WorkplanInput {
  const tasks = Array.from({ length: runSize }, (_, i) => ({
    id: `t${i}`,
    title: `task ${i}`,
    workflow: "noop",
    input: {},
    after: i < CHAINS ? [] : [`t${i - CHAINS}`],
  }));
  return { goal: "benchmark", tasks };
}

/**
 * How raw and minimal connections checkpoint the WAL: "store" as SqliteStore
 * does (checkpoints.ts: no automatic checkpoint, a worker thread), so that
 * the comparison measures statements and pages, not checkpoint policies;
 * "sqlite" with SQLite's automatic checkpoint in COMMIT, for reference.
 */
export type CheckpointPolicy = "store" | "sqlite";

export function openCycle(kind: Kind, path: string, worker: string, checkpoints: CheckpointPolicy = "store"): Cycle {
  if (kind === "store") return storeCycle(path, worker);
  const db = openPlain(path);
  let checkpointer: Checkpointer | null = null;
  if (checkpoints === "store") {
    disableAutoCheckpoint(db);
    checkpointer = new Checkpointer(db, path);
  }
  const tx = transactor(db, checkpointer);
  return {
    claim: kind === "raw" ? rawClaim(db, tx) : minimalClaim(db, tx, worker),
    close: () => {
      checkpointer?.close();
      db.close();
    },
  };
}

function storeCycle(path: string, worker: string): Cycle {
  const store = new SqliteStore(path, {});
  return {
    async claim() {
      const [task] = await store.claimTasks(worker, 1, LEASE_MS);
      if (!task) return null;
      return async () => {
        await store.completeTask(task.taskId, task.attemptId, null);
      };
    },
    close: () => store.close(),
  };
}

const nothing = async (): Promise<void> => {};

type Transactor = <T>(fn: () => T) => Promise<T>;

function rawClaim(db: Database, tx: Transactor): Cycle["claim"] {
  const insert = db.prepare<void, [number]>("INSERT INTO writes (at) VALUES (?)");
  return async () => {
    await tx(() => insert.run(Date.now()));
    return nothing;
  };
}

function minimalClaim(db: Database, tx: Transactor, worker: string): Cycle["claim"] {
  const claim = db.prepare<{ id: number }, [string, number]>(
    `UPDATE tasks SET state = 'running', owner = ?, expires = ?
     WHERE id = (SELECT id FROM tasks WHERE state = 'ready' ORDER BY id LIMIT 1) RETURNING id`,
  );
  const complete = db.prepare<{ next: number | null }, [number, string]>(
    "UPDATE tasks SET state = 'succeeded' WHERE id = ? AND owner = ? RETURNING next",
  );
  const unblock = db.prepare<void, [number]>(
    "UPDATE tasks SET pending = pending - 1, state = CASE WHEN pending = 1 THEN 'ready' ELSE state END WHERE id = ?",
  );
  return async () => {
    const task = await tx(() => claim.get(worker, Date.now() + LEASE_MS));
    if (!task) return null;
    return () =>
      tx(() => {
        const done = complete.get(task.id, worker);
        if (!done) throw new Error(`task ${task.id} is not owned by ${worker}`);
        if (done.next !== null) unblock.run(done.next);
      });
  };
}

/**
 * BEGIN IMMEDIATE … COMMIT with prepared statements, taking the write lock
 * with the store's own retry loop (writeLock.ts), and checkpointing like the
 * store when given its Checkpointer: with several processes the comparison
 * then measures the statements, not two locking or checkpoint policies.
 */
function transactor(db: Database, checkpointer: Checkpointer | null): Transactor {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const rollback = db.prepare("ROLLBACK");
  const statements: TransactionStatements = {
    begin: () => begin.run(),
    commit: () => commit.run(),
    rollback: () => rollback.run(),
    inTransaction: () => db.inTransaction,
  };
  return async (fn) => {
    const paused = checkpointer?.paused();
    if (paused) await paused;
    const result = await writeTransaction(statements, fn, LOCK_TIMEOUT_MS);
    checkpointer?.committed();
    return result;
  };
}
