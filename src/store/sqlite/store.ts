/**
 * The Store on bun:sqlite. Every state change is a function of runs.ts,
 * leases.ts, outcomes.ts… applied by the group writer (writer.ts): all
 * writes of one event-loop turn share one BEGIN IMMEDIATE transaction (taken
 * fairly across processes, see writeLock.ts), each in its own savepoint, and
 * each caller's promise settles after that COMMIT. The reads are functions
 * of reads.ts, views.ts, operators.ts…: a read of one statement needs no
 * transaction in WAL mode; a read of several runs in one read
 * transaction, so it sees one snapshot. Opened with `readOnly`, the store
 * never migrates and never writes (a viewer beside working drones).
 */
import type { Database } from "bun:sqlite";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "../../core/backoff.ts";
import { systemClock, type Clock } from "../../core/clock.ts";
import { ReadOnlyStoreError, StoreClosedError } from "../../core/errors.ts";
import { parseWorkplan, type RunBudget } from "../../core/workplan.ts";
import type {
  AttemptRecord,
  ClaimedTask,
  ClaimOptions,
  CompleteResult,
  CreatedRun,
  CreateRunOptions,
  EventRecord,
  FailOptions,
  EmitResult,
  GateDecision,
  GateRecord,
  FireRequest,
  FireResult,
  ScheduleInput,
  ScheduleEvent,
  ScheduleEventType,
  ScheduleRecord,
  LogEntry,
  LogRecord,
  SignalRecord,
  FailResult,
  LeaseRenewal,
  RunRecord,
  RunSnapshot,
  RunSummary,
  StateCounts,
  DatabaseInfo,
  DroneRecord,
  EventTail,
  OpenTaskRecord,
  MetricsOptions,
  MetricsSnapshot,
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
import { claimReady, countOtherLeaseHolders, extendLeaseTx, nextDueTx, recordStepTx, releaseTaskTx, renewLeasesTx, suspendTaskTx } from "./leases.ts";
import { completeTaskTx, failTaskTx } from "./outcomes.ts";
import { selectAttempts, selectDependencyOutputs, selectEvents, selectGates, selectRunBudget, selectRunModelUsage, selectRuns, selectSteps, selectTask, selectTaskByKey, selectTasks, type RunFilter } from "./reads.ts";
import { cancelRunTx, insertPlanningRun, insertRun, reopenRunTx, selectRun } from "./runs.ts";
import { emitSignalTx, selectSignal } from "./signals.ts";
import { deleteScheduleTx, fireTx, insertSchedule, recordMissedTx, selectSchedule, selectScheduleEvents, selectSchedules, setEnabledTx } from "./schedules.ts";
import { appendLogsTx, selectLogs } from "./logs.ts";
import { decideGateTx, selectGate } from "./gates.ts";
import { finalizeStatements } from "./statements.ts";
import { Upkeep } from "./upkeep.ts";
import { retryWhileBusy } from "./writeLock.ts";
import { GroupWriter, type SetGroup, type SetMember, type WriteKind } from "./writer.ts";
import { completeTasks, recordSteps, type CompletionItem, type StepItem } from "./sets.ts";

// Many tasks' steps, and many completions, of one batch as one statement each (sets.ts).
const STEP_SET: SetGroup<StepItem, void> = { name: "recording steps", apply: recordSteps };
const COMPLETION_SET: SetGroup<CompletionItem, CompleteResult> = { name: "completing tasks", apply: completeTasks };
import { selectMetrics } from "./metrics.ts";
import { selectDrones, selectEventTail, selectLogTail, selectStateCounts, selectTaskSummaries } from "./views.ts";
import { describeSqlite, selectDroneWorkflows, selectOpenTasks } from "./operators.ts";
import { attachWorkflows } from "../droneWorkflows.ts";

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
  /** After each COMMIT of this store (the store host tells its clients). */
  onCommit?: () => void;
}

export const DEFAULT_RECOVERY_LIMIT = 5;

/** A drone's slots on SQLite by default (one lane): the batches bench/peers.ts measured best (bench/README.md). */
export const DEFAULT_SQLITE_SLOTS = 128;

export class SqliteStore implements Store {
  readonly dialect = "sqlite" as const;
  /** One writer per file: claims and writes share one queue (Store.lanes). */
  readonly lanes = 1;
  readonly laneSlots = DEFAULT_SQLITE_SLOTS;
  readonly db: Database;
  readonly path: string;
  readonly readOnly: boolean;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly upkeep: Upkeep;
  private readonly writer: GroupWriter;
  private readonly checkpointer: Checkpointer | null;
  private readonly changes: ChangeFeed;
  private readonly sync: SyncMode;
  private readonly busyTimeoutMs: number;
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.clock = options.clock ?? systemClock;
    this.readOnly = options.readOnly ?? false;
    this.sync = options.sync ?? "normal";
    // Opening waits for other processes' locks as long as a write would, when the caller chose how long.
    const opening = { busyTimeoutMs: options.busyTimeoutMs };
    this.db = this.readOnly ? openReadOnlyDatabase(path, opening) : openDatabase(path, { ...opening, sync: options.sync, now: () => this.clock.now() });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 30_000;
    this.upkeep = new Upkeep({ recoveryLimit: options.recoveryLimit ?? DEFAULT_RECOVERY_LIMIT });
    this.changes = new ChangeFeed(this.db);
    // An in-memory database has no WAL: SQLite's defaults are fine there. A reader never checkpoints.
    if (path === ":memory:" || this.readOnly) {
      this.checkpointer = null;
    } else {
      disableAutoCheckpoint(this.db);
      this.checkpointer = new Checkpointer(this.db, path);
    }
    this.writer = new GroupWriter({
      db: this.db,
      clock: this.clock,
      busyTimeoutMs: this.busyTimeoutMs,
      checkpointer: this.checkpointer,
      onCommit: () => {
        this.changes.committed();
        options.onCommit?.();
      },
    });
  }

  /** Another process committed and said so (the store host): followers and idle drones look again. */
  noteChange(): void {
    this.changes.committed();
  }

  /** Batches committed and writes they held (tests, the bench). */
  get writeStats(): Readonly<{ batches: number; writes: number; safeRetries: number }> {
    return this.writer.stats;
  }

  /** Queues a write for this turn's batch; resolves after the COMMIT that holds it. */
  private write<T>(operation: string, fn: (ctx: TxContext) => T, kind: WriteKind = "other", set?: SetMember): Promise<T> {
    if (this.readOnly) return Promise.reject(new ReadOnlyStoreError(operation));
    if (this.closed) return Promise.reject(new StoreClosedError(operation));
    return this.writer.write(kind, Object.defineProperty(fn, "name", { value: operation }), set);
  }

  /**
   * A read of one statement. In WAL mode a read meets SQLITE_BUSY only while
   * another process recovers a crashed writer's WAL: it is retried then, with
   * the writes' waits and bound (writeLock.ts).
   */
  private read<T>(fn: (ctx: TxContext) => T): Promise<T> {
    return Promise.resolve().then(() => retryWhileBusy(() => fn({ db: this.db, now: this.clock.now() }), this.busyTimeoutMs, `reading ${this.path}`));
  }

  /**
   * A read of several statements, in one read transaction: one snapshot.
   * Synchronous from BEGIN to COMMIT, so no write of this process can run
   * on the connection in between (the writer's batches are synchronous too).
   * A busy read ends its transaction and the whole snapshot is read again.
   */
  private snapshot<T>(fn: (ctx: TxContext) => T): Promise<T> {
    return Promise.resolve().then(() =>
      retryWhileBusy(() => {
        this.db.run("BEGIN");
        try {
          return fn({ db: this.db, now: this.clock.now() });
        } finally {
          this.db.run("COMMIT");
        }
      }, this.busyTimeoutMs, `reading ${this.path}`),
    );
  }

  async createRun(plan: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    const valid = parseWorkplan(plan, options.source); // validated before anything is written
    return this.write("creating a run", (ctx) => insertRun(ctx, valid, options));
  }

  async createPlanningRun(goal: string, planningInput: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    return (await this.createPlanningRunOnce(goal, planningInput, options)).run;
  }

  createPlanningRunOnce(goal: string, planningInput: unknown, options: CreateRunOptions = {}): Promise<CreatedRun> {
    return this.write("creating a run", (ctx) => insertPlanningRun(ctx, goal, planningInput, options));
  }

  getRun(runId: string): Promise<RunRecord> {
    return this.read((ctx) => selectRun(ctx, runId));
  }

  listRuns(options: RunFilter = {}): Promise<RunRecord[]> {
    return this.read((ctx) => selectRuns(ctx, options));
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

  readRunSummary(runId: string, options: { changedSince?: number; gates?: boolean } = {}): Promise<RunSummary> {
    return this.snapshot((ctx) => ({
      run: selectRun(ctx, runId),
      ...selectTaskSummaries(ctx, runId, options.changedSince),
      gates: options.gates === false ? [] : selectGates(ctx, { runId }),
    }));
  }

  countTasksByState(runIds: readonly string[]): Promise<Record<string, StateCounts>> {
    return this.read((ctx) => selectStateCounts(ctx, runIds));
  }

  listDrones(options: { since: number; withWorkflows?: boolean }): Promise<DroneRecord[]> {
    return this.snapshot((ctx) => {
      const drones = selectDrones(ctx, options.since);
      return options.withWorkflows ? attachWorkflows(drones, selectDroneWorkflows(ctx, options.since)) : drones;
    });
  }

  countOtherLeaseHolders(worker: string): Promise<number> {
    return this.read((ctx) => countOtherLeaseHolders(ctx, worker));
  }

  listOpenTasks(options: { runId?: string; limit: number }): Promise<OpenTaskRecord[]> {
    return this.snapshot((ctx) => {
      if (options.runId !== undefined) selectRun(ctx, options.runId);
      return selectOpenTasks(ctx, options);
    });
  }

  describeDatabase(): Promise<DatabaseInfo> {
    return this.read(({ db }) => describeSqlite(db, this.path, this.sync));
  }

  readMetrics(options: MetricsOptions): Promise<MetricsSnapshot> {
    return this.snapshot((ctx) => selectMetrics(ctx, options));
  }

  tailEvents(options: { runId?: string; limit: number }): Promise<EventTail> {
    return this.snapshot((ctx) => selectEventTail(ctx, options));
  }

  tailLogs(taskId: number, limit: number): Promise<LogRecord[]> {
    return this.read((ctx) => selectLogTail(ctx, taskId, limit));
  }

  getTask(taskId: number): Promise<TaskRecord> {
    return this.read((ctx) => selectTask(ctx, taskId));
  }


  findTask(runId: string, key: string): Promise<TaskRecord> {
    return this.read((ctx) => selectTaskByKey(ctx, runId, key));
  }


  listAttempts(taskId: number): Promise<AttemptRecord[]> {
    return this.read((ctx) => selectAttempts(ctx, taskId));
  }


  listSteps(taskId: number): Promise<StepRecord[]> {
    return this.read((ctx) => selectSteps(ctx, taskId));
  }


  dependencyOutputs(taskId: number): Promise<Record<string, unknown>> {
    return this.read((ctx) => selectDependencyOutputs(ctx, taskId));
  }


  listEvents(options: { runId?: string; taskId?: number; afterId?: number; limit?: number } = {}): Promise<EventRecord[]> {
    return this.read((ctx) => selectEvents(ctx, { ...options, afterId: options.afterId ?? 0, limit: options.limit ?? 1000 }));
  }

  followEvents(options: FollowOptions & { runId?: string; taskId?: number } = {}): AsyncIterable<EventRecord> {
    return follow((afterId, limit) => this.listEvents({ runId: options.runId, taskId: options.taskId, afterId, limit }), this.changes, options);
  }

  followLogs(taskId: number, options: FollowOptions = {}): AsyncIterable<LogRecord> {
    return follow((afterId, limit) => this.listLogs(taskId, { afterId, limit }), this.changes, options);
  }



  /** The upkeep (reclaim, gate sweep, wake-ups) runs when due; see upkeep.ts. */
  async claimTasks(worker: string, limit: number, leaseMs: number, options: ClaimOptions = {}): Promise<ClaimedTask[]> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`a claim's limit must be a whole number ≥ 0 (got ${limit})`);
    const groups = options.groups ?? [{ workflows: options.workflows ?? [], limit }];
    for (const group of groups) {
      if (!Number.isSafeInteger(group.limit) || group.limit < 0) throw new RangeError(`a claim group's limit must be a whole number ≥ 0 (got ${group.limit})`);
    }
    const claimAll = (ctx: TxContext, claimed: ClaimedTask[]) => {
      for (const group of groups) {
        const room = Math.min(group.limit - claimed.filter((c) => group.workflows.length === 0 || group.workflows.includes(c.workflow)).length, limit - claimed.length);
        if (room > 0) claimed.push(...claimReady(ctx, worker, room, leaseMs, { runId: options.runId, workflows: group.workflows }));
      }
      return claimed;
    };
    return this.write("claiming tasks", (ctx) => {
      const due = limit === 0 || this.upkeep.due(ctx.now);
      if (due) this.upkeep.run(ctx, worker);
      const claimed = claimAll(ctx, []);
      if (due || claimed.length === limit) return claimed;
      // A short claim: run the upkeep now (an idle drone takes an expired or woken task at once), and claim again if it freed anything.
      if (this.upkeep.run(ctx, worker) === 0) return claimed;
      return claimAll(ctx, claimed);
    }, "claim");
  }

  /** Nothing is kept per attempt: one lane. */
  attemptEnded(_attemptId: number): void {}

  nextDueAt(options: ClaimOptions = {}): Promise<number | null> {
    return this.read((ctx) => nextDueTx(ctx, options));
  }

  changeToken(): number {
    return this.changes.token();
  }

  waitForChange(options: { since: number; signal?: AbortSignal; maxWaitMs: number }): Promise<void> {
    return this.changes.wait(options.since, options.signal, options.maxWaitMs);
  }

  renewLeases(worker: string, leases: readonly LeaseRenewal[]): Promise<number[]> {
    if (leases.length === 0) return Promise.resolve([]);
    return this.write("renewing leases", (ctx) => renewLeasesTx(ctx, worker, leases), "hot");
  }

  extendLease(taskId: number, attemptId: number, leaseMs: number): Promise<number> {
    return this.write("extending a lease", (ctx) => extendLeaseTx(ctx, taskId, attemptId, leaseMs), "hot");
  }

  recordStep(taskId: number, attemptId: number, step: StepWrite): Promise<void> {
    return this.write("recording a step", (ctx) => recordStepTx(ctx, taskId, attemptId, step), "hot", { group: STEP_SET, task: taskId, payload: { taskId, attemptId, step } });
  }

  completeTask(taskId: number, attemptId: number, output: unknown): Promise<CompleteResult> {
    const json = JSON.stringify(output ?? null);
    return this.write("completing a task", (ctx) => completeTaskTx(ctx, taskId, attemptId, json), "hot", {
      group: COMPLETION_SET,
      task: taskId,
      payload: { taskId, attemptId, output: json },
    });
  }

  failTask(taskId: number, attemptId: number, error: TaskError, options: FailOptions = {}): Promise<FailResult> {
    return this.write("failing a task", (ctx) => failTaskTx(ctx, taskId, attemptId, error, options, this.backoff, this.random), "hot");
  }

  suspendTask(taskId: number, attemptId: number, options: SuspendOptions): Promise<void> {
    return this.write("suspending a task", (ctx) => suspendTaskTx(ctx, taskId, attemptId, options), "hot");
  }

  releaseTask(taskId: number, attemptId: number): Promise<void> {
    return this.write("releasing a task", (ctx) => releaseTaskTx(ctx, taskId, attemptId), "hot");
  }

  runBudget(runId: string): Promise<RunBudget | null> {
    return this.read((ctx) => selectRunBudget(ctx, runId));
  }


  runModelUsage(runId: string): Promise<{ turns: number; inputTokens: number; outputTokens: number }> {
    return this.read((ctx) => selectRunModelUsage(ctx, runId));
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
    return this.write("appending logs", (ctx) => appendLogsTx(ctx, taskId, attemptId, entries), "hot");
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

  listScheduleEvents(name: string, options: { limit?: number; types?: readonly ScheduleEventType[] } = {}): Promise<ScheduleEvent[]> {
    return this.read((ctx) => selectScheduleEvents(ctx, name, { limit: options.limit ?? 100, types: options.types }));
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
    await this.writer.drain(); // what was queued before close is committed (or fails) first
    this.changes.close();
    this.checkpointer?.close();
    finalizeStatements(this.db);
    this.db.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
