/**
 * The Store on PostgreSQL (Bun.SQL), for a swarm across machines: every
 * state change is a function of runs.ts, claims.ts, leases.ts, outcomes.ts…
 * applied by the group writer (writer.ts), one transaction per batch; the
 * reads are functions of reads.ts, views.ts, operators.ts…: those of one
 * statement go straight to the pool, those of several run in one
 * REPEATABLE READ transaction (one snapshot). Opened read-only, the store
 * never migrates and never writes (the server refuses it too).
 *
 * Open it with `await PostgresStore.open(url, options)`.
 */
import type { SQL } from "bun";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "../../core/backoff.ts";
import { systemClock, type Clock } from "../../core/clock.ts";
import { ReadOnlyStoreError, StoreClosedError, StoreUnreachableError } from "../../core/errors.ts";
import { parseWorkplan, type RunBudget } from "../../core/workplan.ts";
import { follow, type FollowOptions } from "../follow.ts";
import type {
  AttemptRecord,
  ClaimedTask,
  ClaimOptions,
  CompleteResult,
  CreatedRun,
  CreateRunOptions,
  EmitResult,
  EventRecord,
  FailOptions,
  FailResult,
  FireRequest,
  FireResult,
  GateDecision,
  GateRecord,
  LeaseRenewal,
  LogEntry,
  LogRecord,
  RunRecord,
  RunSnapshot,
  RunSummary,
  StateCounts,
  DroneRecord,
  EventTail,
  MetricsOptions,
  MetricsSnapshot,
  ScheduleInput,
  ScheduleEvent,
  ScheduleEventType,
  ScheduleRecord,
  SignalRecord,
  StepRecord,
  StepWrite,
  Store,
  SuspendOptions,
  TaskError,
  TaskRecord,
  DatabaseInfo,
  OpenTaskRecord,
} from "../types.ts";
import { PgChangeFeed } from "./changes.ts";
import { claimReady } from "./claims.ts";
import type { TxContext } from "./context.ts";
import { checkVersion, createPool, isConnectionError, migrate, parsePgUrl, refusedText, unreachable, type Migration, type PgTarget } from "./database.ts";
import { selectEvents } from "./events.ts";
import { decideGateTx, selectGate } from "./gates.ts";
import { countOtherLeaseHolders, extendLeaseTx, nextDueTx, releaseTaskTx, renewLeasesTx, suspendTaskTx } from "./leases.ts";
import { Upkeep } from "./upkeep.ts";
import { appendLogs, selectLogs, type LogRequest } from "./logs.ts";
import { completeTasks, completeTaskTx, failTaskTx, type CompleteRequest } from "./outcomes.ts";
import { cancelRunTx, insertPlanningRun, insertRun, reopenRunTx, selectRun } from "./runs.ts";
import { deleteScheduleTx, fireTx, insertSchedule, recordMissedTx, selectSchedule, selectScheduleEvents, selectSchedules, setEnabledTx } from "./schedules.ts";
import { emitSignalTx, selectSignal } from "./signals.ts";
import { lockKey } from "./sqlText.ts";
import { recordSteps, type StepRequest } from "./steps.ts";
import { PgConnections } from "./connections.ts";
import { WriteLanes } from "./lanes.ts";
import { PgGroupWriter, type Write, type WriteGroup } from "./writer.ts";
import { describePostgres, selectDroneWorkflows, selectOpenTasks } from "./operators.ts";
import { attachWorkflows } from "../droneWorkflows.ts";
import { selectMetrics } from "./metrics.ts";
import { selectAttempts, selectDependencyOutputs, selectGates, selectRunBudget, selectRunModelUsage, selectRuns, selectSteps, selectTask, selectTaskByKey, selectTasks, type RunFilter } from "./reads.ts";
import { selectDrones, selectEventTail, selectLogTail, selectStateCounts, selectTaskSummaries } from "./views.ts";

export interface PostgresStoreOptions {
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Source of randomness for retry jitter (tests pin it). */
  random?: () => number;
  recoveryLimit?: number;
  /** Never migrate, never write: a viewer. The schema must be at the code's version. */
  readOnly?: boolean;
  /** "create" (default): a database without Farcaster's tables gets them; "existing": it is NotFoundError instead. */
  access?: "create" | "existing";
  /** Write lanes (lanes.ts; default DEFAULT_PG_LANES): transactions of this store in flight at once, each on a connection of its own. */
  lanes?: number;
  /** Connections for reads (default 2); each write lane has one more, of its own, opened when it first writes. */
  poolSize?: number;
  /** Shown in pg_stat_activity (default "farcaster"). */
  applicationName?: string;
  /** A batch that takes longer than this is abandoned and its writes reject (default 15 s). */
  writeDeadlineMs?: number;
  /** How often the listener is probed, and how long a probe may take (see changes.ts). */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Seconds to wait for a connection (default 10). */
  connectTimeoutS?: number;
  /** Migrations to apply instead of migrations/postgres (tests). */
  migrations?: Migration[];
}

export const DEFAULT_RECOVERY_LIMIT = 5;
/** Write lanes by default: measured in bench/pg.ts (bench/README.md, "Write lanes"). */
export const DEFAULT_PG_LANES = 3;
const MAX_PG_LANES = 16;
/** A drone's slots per write lane by default: measured in bench/lanes.ts (bench/README.md, "Slots per lane, and a shared drone keeps its slots"). */
export const DEFAULT_PG_LANE_SLOTS = 256;
/** Connections for reads by default (connections.ts says why so few). */
const DEFAULT_READ_CONNECTIONS = 2;

export class PostgresStore implements Store {
  readonly dialect = "postgres" as const;
  readonly readOnly: boolean;
  readonly target: PgTarget;
  /** The schema holding the store's tables. */
  readonly schema: string;
  private readonly connections: PgConnections;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly recoveryLimit: number;
  readonly lanes: number;
  readonly laneSlots = DEFAULT_PG_LANE_SLOTS;
  private readonly writers: WriteLanes;
  private readonly changes: PgChangeFeed;
  private readonly followChanges;
  private readonly upkeep: Upkeep;
  private closed = false;
  private readonly closing = new AbortController();

  /** Connects, then migrates (or, read-only, checks the schema version). A server that cannot be reached is StoreUnreachableError naming it. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const target = parsePgUrl(url);
    const clock = options.clock ?? systemClock;
    const lanes = options.lanes ?? DEFAULT_PG_LANES;
    if (!Number.isSafeInteger(lanes) || lanes < 1 || lanes > MAX_PG_LANES) throw new RangeError(`lanes must be a whole number from 1 to ${MAX_PG_LANES} (got ${lanes})`);
    const connecting = { readOnly: options.readOnly, applicationName: options.applicationName, connectTimeoutS: options.connectTimeoutS, readConnections: options.poolSize ?? DEFAULT_READ_CONNECTIONS };
    const pool = PgConnections.readPool(target, connecting);
    try {
      const info = options.readOnly
        ? await checkVersion(pool, target, options.migrations)
        : await migrate(pool, target, () => clock.now(), { create: (options.access ?? "create") === "create", migrations: options.migrations });
      return new PostgresStore(target, new PgConnections(target, connecting, lanes, pool), info.schema, lanes, options);
    } catch (error) {
      await pool.close({ timeout: 0 }).catch(() => {});
      throw isConnectionError(error) || (error as { errno?: string })?.errno?.startsWith("28") || (error as { errno?: string })?.errno === "3D000" ? unreachable(target, error) : error;
    }
  }

  private constructor(target: PgTarget, connections: PgConnections, schema: string, lanes: number, options: PostgresStoreOptions) {
    this.target = target;
    this.schema = schema;
    this.connections = connections;
    this.lanes = lanes;
    this.readOnly = options.readOnly ?? false;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.recoveryLimit = options.recoveryLimit ?? DEFAULT_RECOVERY_LIMIT;
    this.upkeep = new Upkeep({ recoveryLimit: this.recoveryLimit });
    const channel = `farcaster_${schema}`.slice(0, 63);
    this.changes = new PgChangeFeed({
      pool: () => this.connections.reads,
      connectListener: () => createPool(target, { max: 1, readOnly: this.readOnly, applicationName: `${options.applicationName ?? "farcaster"}:listen` }),
      channel,
      probeIntervalMs: options.probeIntervalMs,
      probeTimeoutMs: options.probeTimeoutMs,
    });
    this.followChanges = { token: () => this.changes.token(), wait: (since: number, signal: AbortSignal | undefined, maxWaitMs: number) => this.changes.wait(since, signal, maxWaitMs, true) };
    const writer = (_: unknown, lane: number) =>
      new PgGroupWriter({
        pool: () => this.connections.lane(lane),
        clock: this.clock,
        eventLockKey: lockKey(`farcaster.events:${schema}`),
        channel,
        deadlineMs: options.writeDeadlineMs ?? 15_000,
        resetPool: () => this.connections.reset(lane),
        describe: () => target.label,
        onCommit: () => this.changes.committed(),
      });
    this.writers = new WriteLanes(Array.from({ length: this.lanes }, writer));
  }

  /** Batches committed and writes they held (tests, the bench). */
  get writeStats(): Readonly<{ batches: number; writes: number; retries: number }> {
    return this.writers.stats;
  }

  /** The same, lane by lane (tests). */
  get laneStats(): readonly Readonly<{ batches: number; writes: number; retries: number }>[] {
    return this.writers.perLane;
  }

  /** The pool (tests and the bench read the database behind the store through it). */
  get sql(): SQL {
    return this.connections.reads;
  }

  /** The change feed's listener: how many times it was (re)subscribed (tests end it and watch it come back). */
  get listener(): { readonly restarts: number } {
    const changes = this.changes;
    return { get restarts() { return changes.restarts; } };
  }

  /** Queues a write through `send` (a lane: lanes.ts); a value the database refuses comes back as its own error. */
  private write<T>(operation: string, write: Omit<Write<T>, "idempotent"> & { idempotent?: boolean }, send: (write: Write<T>) => Promise<T> = (w) => this.writers.other(w)): Promise<T> {
    if (this.readOnly) return Promise.reject(new ReadOnlyStoreError(operation));
    if (this.closed) return Promise.reject(new StoreClosedError(operation));
    (write as Write<T>).idempotent ??= false; // the caller's object, made for this call: no copy
    return send(write as Write<T>).catch((error: unknown) => {
      throw refusedText(error) ?? error;
    });
  }

  /** A write of one attempt, through the lane that claimed it. */
  private attemptWrite<T>(operation: string, attemptId: number, write: Omit<Write<T>, "idempotent"> & { idempotent?: boolean }): Promise<T> {
    return this.write(operation, write, (w) => this.writers.forAttempt(attemptId, w));
  }

  attemptEnded(attemptId: number): void {
    this.writers.forget(attemptId);
  }

  /** Attempts the lanes keep a lane for (tests). */
  get attemptsInLanes(): number {
    return this.writers.remembered;
  }

  private other<T>(operation: string, run: (ctx: TxContext) => Promise<T>): Promise<T> {
    return this.write(operation, { kind: "other", tasks: [], run });
  }

  /** A read of one statement (or several that need no common snapshot). */
  private async read<T>(fn: (sql: SQL) => Promise<T>): Promise<T> {
    try {
      return await fn(this.connections.reads);
    } catch (error) {
      throw this.wrap(error);
    }
  }

  /** A read of several statements in one snapshot. */
  private async snapshot<T>(fn: (sql: SQL) => Promise<T>): Promise<T> {
    try {
      return (await this.connections.reads.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", (tx) => fn(tx))) as T;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): unknown {
    if (isConnectionError(error)) return new StoreUnreachableError(`PostgreSQL at ${this.target.label}: ${(error as Error).message}; check that the server is running and reachable`, { cause: error });
    return refusedText(error) ?? error;
  }

  async createRun(plan: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    const valid = parseWorkplan(plan, options.source); // validated before anything is written
    return this.other("creating a run", (ctx) => insertRun(ctx, valid, options));
  }

  async createPlanningRun(goal: string, planningInput: unknown, options: CreateRunOptions = {}): Promise<RunRecord> {
    return (await this.createPlanningRunOnce(goal, planningInput, options)).run;
  }

  createPlanningRunOnce(goal: string, planningInput: unknown, options: CreateRunOptions = {}): Promise<CreatedRun> {
    return this.other("creating a run", (ctx) => insertPlanningRun(ctx, goal, planningInput, options));
  }

  getRun(runId: string): Promise<RunRecord> {
    return this.read((sql) => selectRun(sql, runId));
  }

  listRuns(options: RunFilter = {}): Promise<RunRecord[]> {
    return this.read((sql) => selectRuns(sql, options));
  }


  listTasks(runId: string): Promise<TaskRecord[]> {
    return this.snapshot(async (sql) => {
      await selectRun(sql, runId);
      return selectTasks(sql, runId);
    });
  }

  readRun(runId: string, options: { eventsAfter?: number; eventLimit?: number } = {}): Promise<RunSnapshot> {
    return this.snapshot(async (sql) => ({
      run: await selectRun(sql, runId),
      tasks: await selectTasks(sql, runId),
      gates: await selectGates(sql, { runId }),
      events: options.eventsAfter === undefined ? [] : await selectEvents(sql, { runId, afterId: options.eventsAfter, limit: options.eventLimit ?? 1000 }),
    }));
  }

  readRunSummary(runId: string, options: { changedSince?: number; gates?: boolean } = {}): Promise<RunSummary> {
    return this.snapshot(async (sql) => ({
      run: await selectRun(sql, runId),
      ...(await selectTaskSummaries(sql, runId, options.changedSince)),
      gates: options.gates === false ? [] : await selectGates(sql, { runId }),
    }));
  }

  countTasksByState(runIds: readonly string[]): Promise<Record<string, StateCounts>> {
    return this.read((sql) => selectStateCounts(sql, runIds));
  }

  listDrones(options: { since: number; withWorkflows?: boolean }): Promise<DroneRecord[]> {
    return this.snapshot(async (sql) => {
      const drones = await selectDrones(sql, options.since);
      return options.withWorkflows ? attachWorkflows(drones, await selectDroneWorkflows(sql, options.since)) : drones;
    });
  }

  listOpenTasks(options: { runId?: string; limit: number }): Promise<OpenTaskRecord[]> {
    return this.snapshot(async (sql) => {
      if (options.runId !== undefined) await selectRun(sql, options.runId);
      return selectOpenTasks(sql, options);
    });
  }

  describeDatabase(): Promise<DatabaseInfo> {
    return this.snapshot((sql) => describePostgres(sql, this.target, this.schema));
  }

  readMetrics(options: MetricsOptions): Promise<MetricsSnapshot> {
    return this.snapshot((sql) => selectMetrics(sql, options));
  }

  tailEvents(options: { runId?: string; limit: number }): Promise<EventTail> {
    return this.snapshot((sql) => selectEventTail(sql, options));
  }

  tailLogs(taskId: number, limit: number): Promise<LogRecord[]> {
    return this.read((sql) => selectLogTail(sql, taskId, limit));
  }

  getTask(taskId: number): Promise<TaskRecord> {
    return this.read((sql) => selectTask(sql, taskId));
  }


  findTask(runId: string, key: string): Promise<TaskRecord> {
    return this.read((sql) => selectTaskByKey(sql, runId, key));
  }


  listAttempts(taskId: number): Promise<AttemptRecord[]> {
    return this.read((sql) => selectAttempts(sql, taskId));
  }


  listSteps(taskId: number): Promise<StepRecord[]> {
    return this.read((sql) => selectSteps(sql, taskId));
  }


  dependencyOutputs(taskId: number): Promise<Record<string, unknown>> {
    return this.read((sql) => selectDependencyOutputs(sql, taskId));
  }


  listEvents(options: { runId?: string; taskId?: number; afterId?: number; limit?: number } = {}): Promise<EventRecord[]> {
    return this.read((sql) => selectEvents(sql, { ...options, afterId: options.afterId ?? 0, limit: options.limit ?? 1000 }));
  }

  followEvents(options: FollowOptions & { runId?: string; taskId?: number } = {}): AsyncIterable<EventRecord> {
    return this.follow((afterId, limit) => this.listEvents({ runId: options.runId, taskId: options.taskId, afterId, limit }), options);
  }

  followLogs(taskId: number, options: FollowOptions = {}): AsyncIterable<LogRecord> {
    return this.follow((afterId, limit) => this.listLogs(taskId, { afterId, limit }), options);
  }

  /** A follower that ends, rather than fails, when the store closes under it (its read in flight meets a closed pool). */
  private follow<T extends { id: number }>(read: (afterId: number, limit: number) => Promise<T[]>, options: FollowOptions): AsyncIterable<T> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const guarded = async (afterId: number, limit: number) => {
      try {
        return await read(afterId, limit);
      } catch (error) {
        if (this.closed) return [];
        throw error;
      }
    };
    return follow(guarded, this.followChanges, { ...options, signal });
  }

  /** The upkeep (reclaim, gate sweep, wake-ups) runs when due, or when a claim finds nothing. */
  async claimTasks(worker: string, limit: number, leaseMs: number, options: ClaimOptions = {}): Promise<ClaimedTask[]> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`a claim's limit must be a whole number ≥ 0 (got ${limit})`);
    const groups = options.groups ?? [{ workflows: options.workflows ?? [], limit }];
    for (const group of groups) {
      if (!Number.isSafeInteger(group.limit) || group.limit < 0) throw new RangeError(`a claim group's limit must be a whole number ≥ 0 (got ${group.limit})`);
    }
    /** One statement for every group, each with the room it has left after what `claimed` holds. */
    const claimAll = async (ctx: TxContext, claimed: ClaimedTask[]) => {
      const room = groups.map((group) => ({
        workflows: group.workflows,
        limit: group.limit - claimed.filter((c) => group.workflows.length === 0 || group.workflows.includes(c.workflow)).length,
      }));
      claimed.push(...(await claimReady(ctx, { worker, limit: limit - claimed.length, leaseMs, runId: options.runId, groups: room, recoveryLimit: this.recoveryLimit })));
      return claimed;
    };
    return this.write<ClaimedTask[]>("claiming tasks", {
      kind: "claim",
      tasks: [],
      run: async (ctx) => {
        const due = limit === 0 || this.upkeep.due(ctx.now);
        if (due) await this.upkeep.run(ctx, worker);
        const claimed = await claimAll(ctx, []);
        // A claim that found nothing runs the upkeep now (an idle drone takes an expired or woken task at once), and claims
        // again if it freed anything. Not one that found some: with drones on several machines claims often come back
        // short (others hold the rows they skipped), and three more statements each time would cost more than they find.
        if (due || claimed.length > 0) return claimed;
        const changed = await this.upkeep.run(ctx, worker);
        return changed === 0 ? claimed : claimAll(ctx, claimed);
      },
    }, (w) => this.writers.claim(options.lane ?? 0, w));
  }

  nextDueAt(options: ClaimOptions = {}): Promise<number | null> {
    return this.read((sql) => nextDueTx({ sql }, options));
  }

  countOtherLeaseHolders(worker: string): Promise<number> {
    return this.read((sql) => countOtherLeaseHolders(sql, worker, this.clock.now()));
  }

  changeToken(): number {
    return this.changes.token();
  }

  waitForChange(options: { since: number; signal?: AbortSignal; maxWaitMs: number }): Promise<void> {
    return this.changes.wait(options.since, options.signal, options.maxWaitMs, false);
  }

  renewLeases(worker: string, leases: readonly LeaseRenewal[]): Promise<number[]> {
    if (leases.length === 0) return Promise.resolve([]);
    return this.writers.renew(leases, (part, send) =>
      this.write("renewing leases", { kind: "hot", tasks: part.map((l) => l.taskId), idempotent: true, run: (ctx) => renewLeasesTx(ctx, worker, part) }, send),
    );
  }

  extendLease(taskId: number, attemptId: number, leaseMs: number): Promise<number> {
    return this.attemptWrite("extending a lease", attemptId, { kind: "hot", tasks: [taskId], idempotent: true, run: (ctx) => extendLeaseTx(ctx, taskId, attemptId, leaseMs) });
  }

  recordStep(taskId: number, attemptId: number, step: StepWrite): Promise<void> {
    const payload: StepRequest = { taskId, attemptId, step };
    return this.attemptWrite<void>("recording a step", attemptId, {
      kind: "hot",
      tasks: [taskId],
      idempotent: true,
      group: STEPS as WriteGroup<unknown, void>,
      payload,
      run: async (ctx) => {
        const [outcome] = await recordSteps(ctx, [payload]);
        if (!outcome!.ok) throw outcome!.error;
      },
    });
  }

  completeTask(taskId: number, attemptId: number, output: unknown): Promise<CompleteResult> {
    const payload: CompleteRequest = { taskId, attemptId, output: JSON.stringify(output ?? null) };
    return this.attemptWrite("completing a task", attemptId, {
      kind: "hot",
      tasks: [taskId],
      idempotent: true,
      group: COMPLETIONS as WriteGroup<unknown, CompleteResult>,
      payload,
      run: (ctx) => completeTaskTx(ctx, taskId, attemptId, payload.output),
    });
  }

  failTask(taskId: number, attemptId: number, error: TaskError, options: FailOptions = {}): Promise<FailResult> {
    return this.attemptWrite("failing a task", attemptId, {
      kind: "hot",
      tasks: [taskId],
      idempotent: true,
      run: (ctx) => failTaskTx(ctx, taskId, attemptId, error, options, this.backoff, this.random),
    });
  }

  suspendTask(taskId: number, attemptId: number, options: SuspendOptions): Promise<void> {
    return this.attemptWrite("suspending a task", attemptId, { kind: "hot", tasks: [taskId], idempotent: true, run: (ctx) => suspendTaskTx(ctx, taskId, attemptId, options) });
  }

  releaseTask(taskId: number, attemptId: number): Promise<void> {
    return this.attemptWrite("releasing a task", attemptId, { kind: "hot", tasks: [taskId], idempotent: true, run: (ctx) => releaseTaskTx(ctx, taskId, attemptId) });
  }

  runBudget(runId: string): Promise<RunBudget | null> {
    return this.read((sql) => selectRunBudget(sql, runId));
  }


  runModelUsage(runId: string): Promise<{ turns: number; inputTokens: number; outputTokens: number }> {
    return this.read((sql) => selectRunModelUsage(sql, runId));
  }


  resumeRun(runId: string, options: { actor?: string } = {}): Promise<{ run: RunRecord; reopened: number }> {
    return this.other("resuming a run", (ctx) => reopenRunTx(ctx, runId, options.actor ?? "user"));
  }

  cancelRun(runId: string, options: { actor?: string; reason?: string } = {}): Promise<RunRecord> {
    return this.other("cancelling a run", (ctx) => cancelRunTx(ctx, runId, options.actor ?? "user", options.reason));
  }

  getGate(gateId: string): Promise<GateRecord> {
    return this.read((sql) => selectGate(sql, gateId));
  }

  listGates(options: { runId?: string; pendingOnly?: boolean } = {}): Promise<GateRecord[]> {
    return this.read((sql) => selectGates(sql, options));
  }

  decideGate(gateId: string, decision: GateDecision): Promise<GateRecord> {
    return this.other("deciding a gate", (ctx) => decideGateTx(ctx, gateId, decision));
  }

  appendLogs(taskId: number, attemptId: number, entries: readonly LogEntry[]): Promise<number> {
    if (entries.length === 0) return Promise.resolve(0);
    const payload: LogRequest = { taskId, attemptId, entries };
    return this.attemptWrite("appending logs", attemptId, {
      kind: "hot",
      tasks: [taskId],
      group: LOGS as WriteGroup<unknown, number>,
      payload,
      run: async (ctx) => (await appendLogs(ctx, [payload]))[0]!,
    });
  }

  listLogs(taskId: number, options: { afterId?: number; limit?: number } = {}): Promise<LogRecord[]> {
    return this.read((sql) => selectLogs(sql, taskId, options.afterId ?? 0, options.limit ?? 1000));
  }

  createSchedule(input: ScheduleInput, actor: string): Promise<ScheduleRecord> {
    return this.other("creating a schedule", (ctx) => insertSchedule(ctx, input, actor));
  }

  getSchedule(nameOrId: string): Promise<ScheduleRecord> {
    return this.read((sql) => selectSchedule(sql, nameOrId));
  }

  listSchedules(options: { enabledOnly?: boolean } = {}): Promise<ScheduleRecord[]> {
    return this.read((sql) => selectSchedules(sql, options.enabledOnly ?? false));
  }

  setScheduleEnabled(name: string, enabled: boolean, actor: string): Promise<ScheduleRecord> {
    return this.other(enabled ? "resuming a schedule" : "pausing a schedule", (ctx) => setEnabledTx(ctx, name, enabled, actor));
  }

  deleteSchedule(name: string, actor: string): Promise<void> {
    return this.other("removing a schedule", (ctx) => deleteScheduleTx(ctx, name, actor));
  }

  fireSchedule(request: FireRequest): Promise<FireResult> {
    return this.other("firing a schedule", (ctx) => fireTx(ctx, request));
  }

  listScheduleEvents(name: string, options: { limit?: number; types?: readonly ScheduleEventType[] } = {}): Promise<ScheduleEvent[]> {
    return this.read((sql) => selectScheduleEvents(sql, name, { limit: options.limit ?? 100, types: options.types }));
  }

  recordScheduleMissed(scheduleId: string, throughSlot: number, missed: number, policy: string, actor: string): Promise<boolean> {
    return this.other("recording missed slots", (ctx) => recordMissedTx(ctx, scheduleId, throughSlot, missed, policy, actor));
  }

  emitSignal(name: string, data: unknown, by: string): Promise<EmitResult> {
    return this.other("emitting a signal", (ctx) => emitSignalTx(ctx, name, data, by));
  }

  getSignal(name: string): Promise<SignalRecord | null> {
    return this.read((sql) => selectSignal(sql, name));
  }

  /** Closing twice is harmless. What was queued before is committed (or fails) first; followers wake and end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    await this.writers.drain();
    await this.changes.close();
    await this.connections.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Steps of one layer of a batch: one statement (steps.ts). */
const STEPS: WriteGroup<StepRequest, void> = {
  name: "recording steps",
  async applyMany(ctx, payloads) {
    return (await recordSteps(ctx, payloads)).map((outcome) => (outcome.ok ? { ok: true, value: undefined } : outcome));
  },
};

/** Completions of one layer: one statement (outcomes.ts); the planning task goes alone. */
const COMPLETIONS: WriteGroup<CompleteRequest, CompleteResult> = {
  name: "completing tasks",
  async applyMany(ctx, payloads) {
    return (await completeTasks(ctx, payloads)).map((outcome) => (outcome.ok === true ? { ok: true, value: outcome.value } : outcome));
  },
};

/** Output of one layer: one statement (logs.ts). */
const LOGS: WriteGroup<LogRequest, number> = {
  name: "appending logs",
  async applyMany(ctx, payloads) {
    return (await appendLogs(ctx, payloads)).map((value) => ({ ok: true, value }));
  },
};
