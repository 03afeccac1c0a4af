/**
 * The Store on bun:sqlite. Every state change is one BEGIN IMMEDIATE
 * transaction (taken fairly, see writeLock.ts) around a function of
 * runs.ts, leases.ts or outcomes.ts. A read of one statement needs no
 * transaction in WAL mode; a read of several runs in one read transaction,
 * so it sees one snapshot. Opened with `readOnly`, the store never migrates
 * and never writes (a viewer beside working drones).
 */
import type { Database } from "bun:sqlite";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "../../core/backoff.ts";
import { systemClock, type Clock } from "../../core/clock.ts";
import { NotFoundError, ReadOnlyStoreError } from "../../core/errors.ts";
import { parseWorkplan, type RunBudget } from "../../core/workplan.ts";
import type {
  AttemptRecord,
  ClaimedTask,
  ClaimOptions,
  CompleteResult,
  CreateRunOptions,
  EventRecord,
  FailOptions,
  EmitResult,
  GateDecision,
  GateRecord,
  FireRequest,
  FireResult,
  ScheduleInput,
  ScheduleRecord,
  LogEntry,
  LogRecord,
  SignalRecord,
  FailResult,
  RunRecord,
  RunSnapshot,
  StepRecord,
  StepWrite,
  Store,
  SuspendOptions,
  TaskError,
  TaskRecord,
} from "../types.ts";
import type { TxContext } from "./context.ts";
import { openDatabase, openReadOnlyDatabase, type SyncMode } from "./database.ts";
import { ChangeFeed } from "./changes.ts";
import { follow, type FollowOptions } from "../follow.ts";
import { Checkpointer, disableAutoCheckpoint } from "./checkpoints.ts";
import { claimReady, extendLeaseTx, recordStepTx, releaseTaskTx, suspendTaskTx } from "./leases.ts";
import { completeTaskTx, failTaskTx } from "./outcomes.ts";
import {
  RUN_SELECT,
  TASK_SELECT,
  toAttempt,
  toEvent,
  toRun,
  toStep,
  toTask,
  GATE_SELECT,
  toGate,
  type GateRow,
  type AttemptRow,
  type EventRow,
  type RunRow,
  type StepRow,
  type TaskRow,
} from "./rows.ts";
import { cancelRunTx, insertPlanningRun, insertRun, reopenRunTx, selectRun } from "./runs.ts";
import { emitSignalTx, selectSignal } from "./signals.ts";
import { deleteScheduleTx, fireTx, insertSchedule, recordMissedTx, selectSchedule, selectSchedules, setEnabledTx } from "./schedules.ts";
import { appendLogsTx, selectLogs } from "./logs.ts";
import { decideGateTx, selectGate } from "./gates.ts";
import { finalizeStatements, inList, sql } from "./statements.ts";
import { UNFINISHED_RUN_STATES } from "../../core/states.ts";
import { Upkeep } from "./upkeep.ts";
import { writeTransaction, type TransactionStatements } from "./writeLock.ts";

export interface SqliteStoreOptions {
  clock?: Clock;
  sync?: SyncMode;
  backoff?: BackoffPolicy;
  /** Source of randomness for retry jitter (tests pin it). */
  random?: () => number;
  recoveryLimit?: number;
  /** How long a write waits for another process's transaction before StoreBusyError. */
  busyTimeoutMs?: number;
  /** Never migrate, never write: a viewer. The database must exist at the code's schema version. */
  readOnly?: boolean;
}

export const DEFAULT_RECOVERY_LIMIT = 5;
/** Longest stretch of writes before the event loop gets a turn (timers, I/O). */
const YIELD_EVERY_MS = 10;

export class SqliteStore implements Store {
  readonly dialect = "sqlite" as const;
  readonly db: Database;
  readonly path: string;
  readonly readOnly: boolean;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly upkeep: Upkeep;
  private readonly busyTimeoutMs: number;
  private readonly tx: TransactionStatements;
  private readonly checkpointer: Checkpointer | null;
  private readonly changes: ChangeFeed;
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.clock = options.clock ?? systemClock;
    this.readOnly = options.readOnly ?? false;
    this.db = this.readOnly ? openReadOnlyDatabase(path) : openDatabase(path, { sync: options.sync, now: () => this.clock.now() });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.upkeep = new Upkeep({ recoveryLimit: options.recoveryLimit ?? DEFAULT_RECOVERY_LIMIT });
    this.busyTimeoutMs = options.busyTimeoutMs ?? 30_000;
    const begin = sql(this.db, "BEGIN IMMEDIATE");
    const commit = sql(this.db, "COMMIT");
    const rollback = sql(this.db, "ROLLBACK");
    this.tx = {
      begin: () => begin.run(),
      commit: () => commit.run(),
      rollback: () => rollback.run(),
      inTransaction: () => this.db.inTransaction,
    };
    this.changes = new ChangeFeed(this.db);
    // An in-memory database has no WAL: SQLite's defaults are fine there. A reader never checkpoints.
    if (path === ":memory:" || this.readOnly) {
      this.checkpointer = null;
    } else {
      disableAutoCheckpoint(this.db);
      this.checkpointer = new Checkpointer(this.db, path);
    }
  }

  /** One IMMEDIATE transaction with one "now" for everything it writes; checkpoints, when due, come after the commit. */
  private async write<T>(operation: string, fn: (ctx: TxContext) => T): Promise<T> {
    if (this.readOnly) throw new ReadOnlyStoreError(operation);
    // bun:sqlite is synchronous: a busy drone's writes resolve as one unbroken chain of
    // microtasks, and timers (heartbeats, task timeouts) would never run. Yield to the
    // event loop when it has not had a turn for a while.
    if (performance.now() - this.lastYield > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
    const paused = this.checkpointer?.paused();
    if (paused) await paused; // the checkpoint thread is restarting the WAL: a few ms
    const result = await writeTransaction(this.tx, () => fn({ db: this.db, now: this.clock.now() }), this.busyTimeoutMs);
    this.checkpointer?.committed();
    this.changes.committed();
    return result;
  }

  private lastYield = performance.now();

  /** A read of one statement. */
  private read<T>(fn: (ctx: TxContext) => T): Promise<T> {
    return Promise.resolve().then(() => fn({ db: this.db, now: this.clock.now() }));
  }

  /**
   * A read of several statements, in one read transaction: one snapshot.
   * Synchronous from BEGIN to COMMIT, so no write of this process can run
   * on the connection in between (see writeTransaction).
   */
  private snapshot<T>(fn: (ctx: TxContext) => T): Promise<T> {
    return Promise.resolve().then(() => {
      this.db.run("BEGIN");
      try {
        return fn({ db: this.db, now: this.clock.now() });
      } finally {
        this.db.run("COMMIT");
      }
    });
  }

  async createRun(plan: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    const valid = parseWorkplan(plan, options.source); // validated before anything is written
    return this.write("creating a run", (ctx) => insertRun(ctx, valid, options));
  }

  createPlanningRun(goal: string, planningInput: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    return this.write("creating a run", (ctx) => insertPlanningRun(ctx, goal, planningInput, options));
  }

  getRun(runId: string): Promise<RunRecord> {
    return this.read((ctx) => selectRun(ctx, runId));
  }

  listRuns(options: { limit?: number; source?: string; unfinished?: boolean; idempotencyKey?: string } = {}): Promise<RunRecord[]> {
    return this.read(({ db }) => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (options.source !== undefined) {
        where.push("r.source = ?");
        params.push(options.source);
      }
      if (options.idempotencyKey !== undefined) {
        where.push("r.idempotency_key = ?");
        params.push(options.idempotencyKey);
      }
      if (options.unfinished) where.push(`r.state IN (${inList(UNFINISHED_RUN_STATES)})`);
      const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      return sql<RunRow, (string | number)[]>(db, `${RUN_SELECT} ${filter} ORDER BY r.created_at DESC, r.id DESC LIMIT ?`)
        .all(...params, options.limit ?? 50)
        .map(toRun);
    });
  }

  listTasks(runId: string): Promise<TaskRecord[]> {
    return this.snapshot((ctx) => {
      selectRun(ctx, runId);
      return selectTasks(ctx, runId);
    });
  }

  readRun(runId: string, options: { eventsAfter?: number; eventLimit?: number } = {}): Promise<RunSnapshot> {
    return this.snapshot((ctx) => ({
      run: selectRun(ctx, runId),
      tasks: selectTasks(ctx, runId),
      gates: selectGates(ctx, { runId }),
      events: options.eventsAfter === undefined ? [] : selectEvents(ctx, { runId, afterId: options.eventsAfter, limit: options.eventLimit ?? 1000 }),
    }));
  }

  getTask(taskId: number): Promise<TaskRecord> {
    return this.read(({ db }) => {
      const row = sql<TaskRow, [number]>(db, `${TASK_SELECT} WHERE t.id = ?`).get(taskId);
      if (!row) throw new NotFoundError("task", String(taskId));
      return toTask(row);
    });
  }

  findTask(runId: string, key: string): Promise<TaskRecord> {
    return this.read(({ db }) => {
      const row = sql<TaskRow, [string, string]>(db, `${TASK_SELECT} WHERE t.run_id = ? AND t.key = ?`).get(runId, key);
      if (!row) throw new NotFoundError("task", `${runId}/${key}`, `list the run's tasks with \`farcaster status ${runId}\``);
      return toTask(row);
    });
  }

  listAttempts(taskId: number): Promise<AttemptRecord[]> {
    return this.read(({ db }) => sql<AttemptRow, [number]>(db, "SELECT * FROM attempts WHERE task_id = ? ORDER BY id").all(taskId).map(toAttempt));
  }

  listSteps(taskId: number): Promise<StepRecord[]> {
    return this.read(({ db }) => sql<StepRow, [number]>(db, "SELECT * FROM steps WHERE task_id = ? ORDER BY seq").all(taskId).map(toStep));
  }

  dependencyOutputs(taskId: number): Promise<Record<string, unknown>> {
    return this.read(({ db }) => {
      const rows = sql<{ key: string; output: string | null }, [number]>(
        db,
        "SELECT d.key, d.output FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = ? ORDER BY d.key",
      ).all(taskId);
      return Object.fromEntries(rows.map((row) => [row.key, row.output === null ? null : JSON.parse(row.output)]));
    });
  }

  listEvents(options: { runId?: string; taskId?: number; afterId?: number; limit?: number } = {}): Promise<EventRecord[]> {
    return this.read((ctx) => selectEvents(ctx, { ...options, afterId: options.afterId ?? 0, limit: options.limit ?? 1000 }));
  }

  followEvents(options: FollowOptions & { runId?: string; taskId?: number } = {}): AsyncIterable<EventRecord> {
    return follow((afterId, limit) => this.listEvents({ runId: options.runId, taskId: options.taskId, afterId, limit }), this.waitForChange, options);
  }

  followLogs(taskId: number, options: FollowOptions = {}): AsyncIterable<LogRecord> {
    return follow((afterId, limit) => this.listLogs(taskId, { afterId, limit }), this.waitForChange, options);
  }

  private readonly waitForChange = (signal: AbortSignal | undefined, maxWaitMs: number) => this.changes.wait(signal, maxWaitMs);

  /** The upkeep (reclaim, gate sweep, wake-ups) runs when due; see upkeep.ts. */
  async claimTasks(worker: string, limit: number, leaseMs: number, options: ClaimOptions = {}): Promise<ClaimedTask[]> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`a claim's limit must be a whole number ≥ 0 (got ${limit})`);
    return this.write("claiming tasks", (ctx) => {
      const due = limit === 0 || this.upkeep.due(ctx.now);
      if (due) this.upkeep.run(ctx, worker);
      const claimed = claimReady(ctx, worker, limit, leaseMs, options);
      if (due || claimed.length === limit || this.upkeep.run(ctx, worker) === 0) return claimed;
      return [...claimed, ...claimReady(ctx, worker, limit - claimed.length, leaseMs, options)];
    });
  }

  extendLease(taskId: number, attemptId: number, leaseMs: number): Promise<number> {
    return this.write("extending a lease", (ctx) => extendLeaseTx(ctx, taskId, attemptId, leaseMs));
  }

  recordStep(taskId: number, attemptId: number, step: StepWrite, leaseMs?: number): Promise<void> {
    return this.write("recording a step", (ctx) => recordStepTx(ctx, taskId, attemptId, step, leaseMs));
  }

  completeTask(taskId: number, attemptId: number, output: unknown): Promise<CompleteResult> {
    const json = JSON.stringify(output ?? null);
    return this.write("completing a task", (ctx) => completeTaskTx(ctx, taskId, attemptId, json));
  }

  failTask(taskId: number, attemptId: number, error: TaskError, options: FailOptions = {}): Promise<FailResult> {
    return this.write("failing a task", (ctx) => failTaskTx(ctx, taskId, attemptId, error, options, this.backoff, this.random));
  }

  suspendTask(taskId: number, attemptId: number, options: SuspendOptions): Promise<void> {
    return this.write("suspending a task", (ctx) => suspendTaskTx(ctx, taskId, attemptId, options));
  }

  releaseTask(taskId: number, attemptId: number): Promise<void> {
    return this.write("releasing a task", (ctx) => releaseTaskTx(ctx, taskId, attemptId));
  }

  runBudget(runId: string): Promise<RunBudget | null> {
    return this.read(({ db }) => {
      const row = sql<{ budget: string | null }, [string]>(db, "SELECT json_extract(workplan, '$.budget') AS budget FROM run_plans WHERE run_id = ?").get(runId);
      return row?.budget ? (JSON.parse(row.budget) as RunBudget) : null;
    });
  }

  runModelUsage(runId: string): Promise<{ turns: number; inputTokens: number; outputTokens: number }> {
    return this.read(({ db }) => {
      const row = sql<{ turns: number; input: number | null; output: number | null }, [string]>(
        db,
        `SELECT count(*) AS turns, sum(s.usage_input_tokens) AS input, sum(s.usage_output_tokens) AS output
         FROM steps s JOIN tasks t ON t.id = s.task_id
         WHERE t.run_id = ? AND s.status = 'completed' AND s.usage_input_tokens IS NOT NULL`,
      ).get(runId)!;
      return { turns: row.turns, inputTokens: row.input ?? 0, outputTokens: row.output ?? 0 };
    });
  }

  resumeRun(runId: string, options: { actor?: string } = {}): Promise<{ run: RunRecord; reopened: number }> {
    return this.write("resuming a run", (ctx) => reopenRunTx(ctx, runId, options.actor ?? "user"));
  }

  cancelRun(runId: string, options: { actor?: string; reason?: string } = {}): Promise<RunRecord> {
    return this.write("cancelling a run", (ctx) => cancelRunTx(ctx, runId, options.actor ?? "user", options.reason));
  }

  getGate(gateId: string): Promise<GateRecord> {
    return this.read((ctx) => selectGate(ctx, gateId));
  }

  listGates(options: { runId?: string; pendingOnly?: boolean } = {}): Promise<GateRecord[]> {
    return this.read((ctx) => selectGates(ctx, options));
  }

  decideGate(gateId: string, decision: GateDecision): Promise<GateRecord> {
    return this.write("deciding a gate", (ctx) => decideGateTx(ctx, gateId, decision));
  }

  appendLogs(taskId: number, attemptId: number, entries: readonly LogEntry[]): Promise<number> {
    if (entries.length === 0) return Promise.resolve(0);
    return this.write("appending logs", (ctx) => appendLogsTx(ctx, taskId, attemptId, entries));
  }

  listLogs(taskId: number, options: { afterId?: number; limit?: number } = {}): Promise<LogRecord[]> {
    return this.read((ctx) => selectLogs(ctx, taskId, options.afterId ?? 0, options.limit ?? 1000));
  }

  createSchedule(input: ScheduleInput, actor: string): Promise<ScheduleRecord> {
    return this.write("creating a schedule", (ctx) => insertSchedule(ctx, input, actor));
  }

  getSchedule(nameOrId: string): Promise<ScheduleRecord> {
    return this.read((ctx) => selectSchedule(ctx, nameOrId));
  }

  listSchedules(options: { enabledOnly?: boolean } = {}): Promise<ScheduleRecord[]> {
    return this.read((ctx) => selectSchedules(ctx, options.enabledOnly ?? false));
  }

  setScheduleEnabled(name: string, enabled: boolean, actor: string): Promise<ScheduleRecord> {
    return this.write(enabled ? "resuming a schedule" : "pausing a schedule", (ctx) => setEnabledTx(ctx, name, enabled, actor));
  }

  deleteSchedule(name: string, actor: string): Promise<void> {
    return this.write("removing a schedule", (ctx) => deleteScheduleTx(ctx, name, actor));
  }

  fireSchedule(request: FireRequest): Promise<FireResult> {
    return this.write("firing a schedule", (ctx) => fireTx(ctx, request));
  }

  recordScheduleMissed(scheduleId: string, throughSlot: number, missed: number, policy: string, actor: string): Promise<boolean> {
    return this.write("recording missed slots", (ctx) => recordMissedTx(ctx, scheduleId, throughSlot, missed, policy, actor));
  }

  emitSignal(name: string, data: unknown, by: string): Promise<EmitResult> {
    return this.write("emitting a signal", (ctx) => emitSignalTx(ctx, name, data, by));
  }

  getSignal(name: string): Promise<SignalRecord | null> {
    return this.read((ctx) => selectSignal(ctx, name));
  }

  /** Closing twice is harmless. Followers waiting for a change wake up and end on their next read. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.changes.close();
    this.checkpointer?.close();
    finalizeStatements(this.db);
    this.db.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function selectTasks(ctx: TxContext, runId: string): TaskRecord[] {
  return sql<TaskRow, [string]>(ctx.db, `${TASK_SELECT} WHERE t.run_id = ? ORDER BY t.id`).all(runId).map(toTask);
}

function selectGates(ctx: TxContext, options: { runId?: string; pendingOnly?: boolean }): GateRecord[] {
  const where: string[] = [];
  const params: string[] = [];
  if (options.runId) {
    where.push("g.run_id = ?");
    params.push(options.runId);
  }
  if (options.pendingOnly) where.push("g.state = 'pending'");
  const text = `${GATE_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY g.created_at, g.id`;
  return sql<GateRow, string[]>(ctx.db, text).all(...params).map(toGate);
}

function selectEvents(ctx: TxContext, options: { runId?: string; taskId?: number; afterId: number; limit: number }): EventRecord[] {
  const where = ["id > ?"];
  const params: (string | number)[] = [options.afterId];
  if (options.runId !== undefined) {
    where.push("run_id = ?");
    params.push(options.runId);
  }
  if (options.taskId !== undefined) {
    where.push("task_id = ?");
    params.push(options.taskId);
  }
  return sql<EventRow, (string | number)[]>(ctx.db, `SELECT * FROM events WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`)
    .all(...params, options.limit)
    .map(toEvent);
}
