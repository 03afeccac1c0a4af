/**
 * One process of the drone benchmarks (bench/drone.ts, bench/latency.ts), given its job as a
 * JSON argument; prints its result as JSON on stdout.
 *
 *   raw      1-row write transactions in a loop until the end time (the ceiling)
 *   drone    a Drone over a prepared database, from a shared start time; counts
 *            the tasks that succeed inside the window
 *   steps    one drone with one slot runs bench-noop tasks of 0 and N steps
 *            (interleaved), then times raw write transactions in this process
 *   handoff  one drone runs single chains of bench-noop tasks: from each
 *            dependency's completeTask return to the dependent's first step
 *
 * The drone modes construct Drone directly (as `farcaster worker` does) with a
 * store wrapped to time its calls: the counts and latencies are the drone's own.
 *
 * usage: bun bench/drone/worker.ts '<WorkerJob as JSON>'
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { Drone } from "../../src/engine/drone.ts";
import { loadWorkflowDir, WorkflowRegistry } from "../../src/engine/registry.ts";
import { submitPlan } from "../../src/engine/submit.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { ClaimedTask, Store } from "../../src/store/types.ts";
import { writeTransaction } from "../../src/store/sqlite/writeLock.ts";
import { openPlain } from "../lib/sqlite.ts";
import { probe, wallNow } from "../workflows/_probe.ts";

export const BENCH_WORKFLOWS = join(import.meta.dir, "..", "workflows");
const LOCK_TIMEOUT_MS = 30_000;

export type WorkerJob =
  | { mode: "raw"; db: string; startAt: number; endAt: number }
  | { mode: "drone"; db: string; id: string; concurrency: number; leaseMs: number; droneStartAt: number; startAt: number; endAt: number }
  | { mode: "steps"; db: string; rawDb: string; pairs: number; steps: number; warmupPairs: number; rawTxs: number }
  | { mode: "handoff"; db: string; concurrency: number; handoffs: number; holds: number[]; warmup: number };

export interface OpStats {
  calls: number;
  ms: number;
}

export interface RawResult {
  count: number;
  /** Mean time of one counted transaction, lock waits included. */
  txUs: number;
  late: boolean;
}

export interface DroneResult {
  id: string;
  /** Tasks that succeeded inside the window. */
  count: number;
  late: boolean;
  /** Claims inside the window that got fewer tasks than asked: the supply ran low. */
  shortClaims: number;
  /** Store calls that ended inside the window: count and total time. */
  ops: Record<string, OpStats>;
  /** Tasks the in-window claims handed out. */
  claimedTasks: number;
  /** Outcomes other than "succeeded" and drone errors, anywhere. */
  problems: string[];
  /**
   * The longest gap between runs of a 10 ms interval timer inside the window:
   * how late this process's timers (heartbeats, task timeouts) can fire while it is busy.
   */
  maxTimerGapMs: number;
  /** CPU time of this process (all its threads) inside the window. */
  cpuMs: number;
}

export interface StepsResult {
  steps: number;
  /** Per measured task: runAttempt's wall time (the drone's "finished" event), ms. */
  attemptMs: { zero: number[]; many: number[] };
  /** Per measured N-step task: the workflow's own time for its step loop, ms. */
  loopMs: number[];
  /** Mean store.recordStep time during the N-step tasks, µs. */
  recordStepUs: number;
  /** 1-row write transactions timed in this process after the drone stopped, µs each. */
  rawTxUs: number;
  problems: string[];
}

export interface HandoffRun {
  holdMs: number;
  /** Per hand-off, ms: completeTask return of the dependency → the dependent's first step began. */
  latencyMs: number[];
  /** Its parts: completeTask return → claimTasks called; claimTasks; claim returned → first step began. */
  wakeMs: number[];
  claimMs: number[];
  startMs: number[];
  /** The same hand-offs from the events table: task.succeeded (dependency) → task.started (dependent), whole ms. */
  eventMs: number[];
  /** Claims during the run that found nothing (idle polls). */
  emptyPolls: number;
}

export interface HandoffResult {
  concurrency: number;
  runs: HandoffRun[];
  problems: string[];
}

type Hook = (op: string, startedAt: number, endedAt: number, args: unknown[], result: unknown) => void;

const TIMED = new Set(["claimTasks", "recordStep", "completeTask", "extendLease", "listSteps", "dependencyOutputs", "getRun", "releaseTask", "failTask"]);

/** The store with every call the drone makes on a task's path timed (hi-res epoch ms) and reported to `hook`. */
function instrument(store: SqliteStore, hook: Hook): Store {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        wrapper = TIMED.has(String(prop))
          ? async (...args: unknown[]) => {
              const startedAt = wallNow();
              const result = await fn.apply(target, args);
              hook(String(prop), startedAt, wallNow(), args, result);
              return result;
            }
          : fn.bind(target);
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  }) as unknown as Store;
}

export async function benchRegistry(): Promise<WorkflowRegistry> {
  const registry = new WorkflowRegistry();
  await loadWorkflowDir(registry, BENCH_WORKFLOWS);
  return registry;
}

async function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - wallNow();
  if (wait > 0) await Bun.sleep(wait);
}

/** BEGIN IMMEDIATE; INSERT one row; COMMIT — with the store's own lock retry (writeLock.ts). */
function rawWriter(db: Database): () => Promise<void> {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const rollback = db.prepare("ROLLBACK");
  const insert = db.prepare<void, [number]>("INSERT INTO writes (at) VALUES (?)");
  const statements = { begin: () => begin.run(), commit: () => commit.run(), rollback: () => rollback.run(), inTransaction: () => db.inTransaction };
  return () =>
    writeTransaction(statements, () => {
      insert.run(Date.now());
    }, LOCK_TIMEOUT_MS);
}

async function raw(job: Extract<WorkerJob, { mode: "raw" }>): Promise<RawResult> {
  const db = openPlain(job.db);
  const write = rawWriter(db);
  const late = wallNow() > job.startAt;
  await sleepUntil(job.startAt);
  let count = 0;
  let ms = 0;
  for (;;) {
    const t0 = wallNow();
    await write();
    const t1 = wallNow();
    if (t1 >= job.endAt) break;
    count++;
    ms += t1 - t0;
  }
  db.close();
  return { count, txUs: count === 0 ? 0 : (ms / count) * 1000, late };
}

async function drone(job: Extract<WorkerJob, { mode: "drone" }>): Promise<DroneResult> {
  const sqlite = new SqliteStore(job.db);
  const registry = await benchRegistry();
  const result: DroneResult = { id: job.id, count: 0, late: false, shortClaims: 0, ops: {}, claimedTasks: 0, problems: [], maxTimerGapMs: 0, cpuMs: 0 };
  const inWindow = (t: number) => t >= job.startAt && t < job.endAt;
  const store = instrument(sqlite, (op, startedAt, endedAt, args, value) => {
    if (!inWindow(endedAt)) return;
    const stats = (result.ops[op] ??= { calls: 0, ms: 0 });
    stats.calls++;
    stats.ms += endedAt - startedAt;
    if (op === "claimTasks") {
      const claimed = (value as ClaimedTask[]).length;
      result.claimedTasks += claimed;
      if (claimed < (args[1] as number)) result.shortClaims++;
    }
  });
  const drone = new Drone({
    store, registry, id: job.id, concurrency: job.concurrency, leaseMs: job.leaseMs,
    onEvent: (event) => {
      if (event.type === "finished") {
        if (event.result.outcome === "succeeded") {
          if (inWindow(wallNow())) result.count++;
        } else if (result.problems.length < 10) result.problems.push(`${event.result.outcome}: ${event.result.error ?? ""}`);
      } else if (event.type === "error" && result.problems.length < 10) result.problems.push(event.message);
    },
  });
  result.late = wallNow() > job.droneStartAt;
  await sleepUntil(job.droneStartAt);
  drone.start();
  let lastTick = wallNow();
  const tick = () => {
    const now = wallNow();
    if (lastTick < job.endAt && now > job.startAt) {
      result.maxTimerGapMs = Math.max(result.maxTimerGapMs, Math.min(now, job.endAt) - Math.max(lastTick, job.startAt));
    }
    lastTick = now;
  };
  const ticker = setInterval(tick, 10);
  await sleepUntil(job.startAt);
  const cpu = process.cpuUsage();
  await sleepUntil(job.endAt);
  const used = process.cpuUsage(cpu);
  result.cpuMs = (used.user + used.system) / 1000;
  tick(); // the sleep is a timer too: if it fired late, the gap up to the window's end counts
  clearInterval(ticker);
  await drone.stop(5_000);
  await sqlite.close();
  return result;
}

async function steps(job: Extract<WorkerJob, { mode: "steps" }>): Promise<StepsResult> {
  const sqlite = new SqliteStore(job.db);
  const registry = await benchRegistry();
  const result: StepsResult = { steps: job.steps, attemptMs: { zero: [], many: [] }, loopMs: [], recordStepUs: 0, rawTxUs: 0, problems: [] };
  const stepsOf = new Map<number, number>();
  const measured = new Set<number>();
  let recordMs = 0;
  let records = 0;
  const store = instrument(sqlite, (op, startedAt, endedAt, args) => {
    if (op === "recordStep" && measured.has(args[0] as number) && stepsOf.get(args[0] as number) === job.steps) {
      recordMs += endedAt - startedAt;
      records++;
    }
  });
  // Pairs of independent tasks, 0 steps then N steps; the drone has one slot, so they run one at a time in this order.
  const tasks = Array.from({ length: job.pairs * 2 }, (_, i) => ({
    id: `t${i}`, title: `task ${i}`, workflow: "bench-noop", input: { steps: i % 2 === 0 ? 0 : job.steps, loop: true },
  }));
  const { run } = await submitPlan(sqlite, registry, { goal: "per-step cost", tasks });
  for (const task of await sqlite.listTasks(run.id)) {
    const index = Number(task.key.slice(1));
    stepsOf.set(task.id, index % 2 === 0 ? 0 : job.steps);
    if (index >= job.warmupPairs * 2) measured.add(task.id);
  }
  let finished = 0;
  const allDone = Promise.withResolvers<void>();
  const drone = new Drone({
    store, registry, concurrency: 1,
    onEvent: (event) => {
      if (event.type === "error") result.problems.push(event.message);
      if (event.type !== "finished") return;
      if (event.result.outcome !== "succeeded") result.problems.push(`${event.result.outcome}: ${event.result.error ?? ""}`);
      else if (measured.has(event.task.taskId)) (stepsOf.get(event.task.taskId) === 0 ? result.attemptMs.zero : result.attemptMs.many).push(event.ms);
      if (++finished === tasks.length) allDone.resolve();
    },
  });
  drone.start();
  await allDone.promise;
  await drone.stop();
  await sqlite.close();
  result.loopMs = probe.loops.filter((l) => measured.has(l.taskId) && l.steps === job.steps).map((l) => l.ms);
  result.recordStepUs = records === 0 ? 0 : (recordMs / records) * 1000;

  // The raw transaction, timed right here for comparison: same process, same moment.
  const db = openPlain(job.rawDb);
  db.run("CREATE TABLE writes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  const write = rawWriter(db);
  for (let i = 0; i < 200; i++) await write(); // warm-up
  const t0 = wallNow();
  for (let i = 0; i < job.rawTxs; i++) await write();
  result.rawTxUs = ((wallNow() - t0) / job.rawTxs) * 1000;
  db.close();
  return result;
}

async function handoff(job: Extract<WorkerJob, { mode: "handoff" }>): Promise<HandoffResult> {
  const sqlite = new SqliteStore(job.db);
  const registry = await benchRegistry();
  const result: HandoffResult = { concurrency: job.concurrency, runs: [], problems: [] };
  const completedAt = new Map<number, number>();
  const claims: { startedAt: number; endedAt: number; taskIds: number[] }[] = [];
  const store = instrument(sqlite, (op, startedAt, endedAt, args, value) => {
    if (op === "completeTask") completedAt.set(args[0] as number, endedAt);
    else if (op === "claimTasks") claims.push({ startedAt, endedAt, taskIds: (value as ClaimedTask[]).map((t) => t.taskId) });
  });
  let waiting: { runId: string; left: number; done: () => void } | null = null;
  const drone = new Drone({
    store, registry, concurrency: job.concurrency,
    onEvent: (event) => {
      if (event.type === "error") result.problems.push(event.message);
      if (event.type !== "finished") return;
      if (event.result.outcome !== "succeeded") result.problems.push(`${event.result.outcome}: ${event.result.error ?? ""}`);
      if (waiting && event.task.runId === waiting.runId && --waiting.left === 0) waiting.done();
    },
  });
  drone.start();

  /** A single chain of `length` tasks; resolves with its task ids in chain order once all are done. */
  const chain = async (length: number, holdMs: number): Promise<{ runId: string; ids: number[] }> => {
    const tasks = Array.from({ length }, (_, i) => ({
      id: `h${i}`, title: `hand-off ${i}`, workflow: "bench-noop", input: { steps: 1, holdMs }, after: i === 0 ? [] : [`h${i - 1}`],
    }));
    const finished = Promise.withResolvers<void>();
    const { run } = await submitPlan(sqlite, registry, { goal: `hand-offs, hold ${holdMs} ms`, tasks });
    waiting = { runId: run.id, left: length, done: finished.resolve };
    await finished.promise;
    waiting = null;
    const ids = (await sqlite.listTasks(run.id)).sort((a, b) => Number(a.key.slice(1)) - Number(b.key.slice(1))).map((t) => t.id);
    return { runId: run.id, ids };
  };

  await chain(job.warmup, 0);
  for (const holdMs of job.holds) {
    const claimsBefore = claims.length;
    const { runId, ids } = await chain(job.handoffs + 1, holdMs);
    const runClaims = claims.slice(claimsBefore);
    const events = await sqlite.listEvents({ runId, limit: 100_000 });
    const eventAt = (type: string, taskId: number) => events.find((e) => e.type === type && e.taskId === taskId)?.at;
    const measured: HandoffRun = { holdMs, latencyMs: [], wakeMs: [], claimMs: [], startMs: [], eventMs: [], emptyPolls: runClaims.filter((c) => c.taskIds.length === 0).length };
    for (let i = 1; i < ids.length; i++) {
      const dep = ids[i - 1]!;
      const task = ids[i]!;
      const done = completedAt.get(dep);
      const began = probe.firstStep.get(task);
      const claim = runClaims.find((c) => c.taskIds.includes(task));
      if (done === undefined || began === undefined || !claim) {
        result.problems.push(`hand-off ${i}: missing a mark`);
        continue;
      }
      measured.latencyMs.push(began - done);
      measured.wakeMs.push(claim.startedAt - done);
      measured.claimMs.push(claim.endedAt - claim.startedAt);
      measured.startMs.push(began - claim.endedAt);
      const succeeded = eventAt("task.succeeded", dep);
      const started = eventAt("task.started", task);
      if (succeeded !== undefined && started !== undefined) measured.eventMs.push(started - succeeded);
    }
    result.runs.push(measured);
  }
  await drone.stop();
  await sqlite.close();
  return result;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "null") as WorkerJob | null;
  if (!job) throw new Error("usage: bun bench/drone/worker.ts '<job as JSON>' (bench/drone.ts and bench/latency.ts start these)");
  const output =
    job.mode === "raw" ? await raw(job) : job.mode === "drone" ? await drone(job) : job.mode === "steps" ? await steps(job) : await handoff(job);
  await new Promise((resolve) => process.stdout.write(JSON.stringify(output), resolve));
  // Abandoned timers (a released task's step) must not keep the process alive.
  process.exit(0);
}
