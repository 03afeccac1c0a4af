/**
 * The Store: the only door to the database. One method per state change;
 * every write on behalf of a running task is fenced by (task id, attempt id,
 * state = running) and throws LeaseLostError when the fence does not hold.
 *
 * Terminology
 *   run      one execution of one workplan
 *   task     a node of the workplan, addressed by its numeric id or (run id, key)
 *   attempt  one lease of a task by one worker; its id is the fencing token
 *   lease    the right to run a task until `leaseExpiresAt`, kept by heartbeats
 *   event    an append-only record of a transition, with time and actor
 *
 * Every method is async so a PostgreSQL implementation (Bun.SQL, FOR UPDATE
 * SKIP LOCKED) can stand in without changing callers.
 *
 * The records it reads and writes are in records.ts, what viewers and
 * operators read in readModels.ts; both are re-exported here, the one
 * module callers import.
 */
import type { EventRecord, ScheduleEvent, ScheduleEventType } from "../core/events.ts";
import type { RunBudget } from "../core/workplan.ts";
import type { FollowOptions } from "./follow.ts";
import type {
  AttemptRecord, ClaimOptions, ClaimedTask, CompleteResult, CreateRunOptions, CreatedRun, EmitResult, FailOptions, FailResult, FireRequest, FireResult,
  GateDecision, GateRecord, LeaseRenewal, LogEntry, LogRecord, RunRecord, ScheduleInput, ScheduleRecord, SignalRecord, StepRecord, StepWrite,
  SuspendOptions, TaskError, TaskRecord,
} from "./records.ts";
import type { DatabaseInfo, DroneRecord, EventTail, MetricsOptions, MetricsSnapshot, OpenTaskRecord, RunSnapshot, RunSummary, StateCounts } from "./readModels.ts";

export type { EventRecord, EventType, EventPayloads, ScheduleEvent, ScheduleEventType } from "../core/events.ts";
export type { CatchUpPolicy, Overlap, RejectAction, StepStatus } from "../core/states.ts";
export type { FollowOptions } from "./follow.ts";
export type {
  RunRecord, TaskError, TaskRecord, ClaimedTask, LeaseRenewal, AttemptRecord, ModelUsage, StepRecord, StepWrite, CreateRunOptions, CreatedRun,
  CompleteResult, FailOptions, FailResult, GateRecord, GateRequest, GateDecision, Feedback, SuspendOptions, LogEntry, LogRecord, ScheduleInput,
  ScheduleRecord, FireRequest, FireResult, SignalRecord, EmitResult, ClaimOptions, ClaimGroup,
} from "./records.ts";
export type {
  RunSnapshot, TaskSummary, RunSummary, StateCounts, HeldLease, DroneRecord, DroneWorkflows, OpenTaskRecord, DatabaseInfo, DurationHistogram,
  ScheduleDecision, MetricsSnapshot, MetricsOptions, EventTail,
} from "./readModels.ts";

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  /** Opened to read only (a viewer): every write method throws ReadOnlyStoreError. */
  readonly readOnly: boolean;
  /**
   * Write lanes: group-commit queues with a transaction in flight each. A
   * drone runs one claim loop per lane, and an attempt's writes go through
   * the lane that claimed it, so lanes are independent pipelines whose
   * transactions overlap each other and the drone's own work. One for SQLite
   * (one writer per file); several for PostgreSQL, whose server works on one
   * lane's transaction while the drone prepares the next.
   */
  readonly lanes: number;
  /**
   * Slots a drone gives each write lane by default: the work in flight one
   * lane's batches are made of. A batch's own cost (its statements, round
   * trips and COMMIT) is spread over its tasks, so the server, which costs
   * more per batch, wants larger ones (bench/README.md, "Slots per lane, and a shared drone keeps its slots").
   */
  readonly laneSlots: number;
  /** Closed (close() was called): every call fails; a drone on it stops claiming. */
  readonly isClosed: boolean;

  /** Inserts the run, its tasks and edges in one transaction; the plan is validated first. */
  createRun(plan: unknown, options?: CreateRunOptions): Promise<RunRecord>;
  /** A run whose first task plans it (workflow `architect`, key "@plan"); its output becomes the run's tasks. */
  createPlanningRun(goal: string, planningInput: unknown, options?: CreateRunOptions): Promise<RunRecord>;
  /**
   * createPlanningRun that says whether it created the run: when the
   * idempotency key already names a run, that run comes back with `created`
   * false. Decided inside the one write that inserts (a unique key), so of
   * concurrent calls with one key exactly one creates (HTTP: 201 once, 200 after).
   */
  createPlanningRunOnce(goal: string, planningInput: unknown, options?: CreateRunOptions): Promise<CreatedRun>;
  getRun(runId: string): Promise<RunRecord>;
  listRuns(options?: { limit?: number; source?: string; unfinished?: boolean; idempotencyKey?: string }): Promise<RunRecord[]>;
  listTasks(runId: string): Promise<TaskRecord[]>;
  getTask(taskId: number): Promise<TaskRecord>;
  findTask(runId: string, key: string): Promise<TaskRecord>;
  listAttempts(taskId: number): Promise<AttemptRecord[]>;
  listSteps(taskId: number): Promise<StepRecord[]>;
  /** Outputs of the tasks `taskId` depends on, by their workplan ids. */
  dependencyOutputs(taskId: number): Promise<Record<string, unknown>>;
  listEvents(options?: { runId?: string; taskId?: number; afterId?: number; limit?: number }): Promise<EventRecord[]>;
  /** The run, its tasks and gates (and, given `eventsAfter`, its events after that id), read in one snapshot. */
  readRun(runId: string, options?: { eventsAfter?: number; eventLimit?: number }): Promise<RunSnapshot>;
  /**
   * The run, its task summaries and its gates, in one snapshot: a viewer's
   * read of a large run. With `changedSince`, only the tasks whose
   * `updatedAt` is at or after it (every change of a task sets `updatedAt`
   * to the writer's clock), so a viewer that holds the rest re-reads a few
   * rows instead of all of them. With `gates: false`, no gates (their
   * evidence can be as large as a plan): for a reader that needs them only
   * when a gate event says one changed.
   */
  readRunSummary(runId: string, options?: { changedSince?: number; gates?: boolean }): Promise<RunSummary>;
  /** Task counts by state of each run named (the planning task is not counted); a run without tasks is absent. */
  countTasksByState(runIds: readonly string[]): Promise<Record<string, StateCounts>>;
  /**
   * Drones seen recently: every worker with a heartbeat at or after `since`
   * among the most recent attempts, and every worker that holds a lease now
   * (expired or not). Ordered by id.
   */
  listDrones(options: { since: number; withWorkflows?: boolean }): Promise<DroneRecord[]>;
  /** How many drones other than `worker` hold a lease that has not expired (a drone sizes its share of the write lanes by it). */
  countOtherLeaseHolders(worker: string): Promise<number>;
  /**
   * The unfinished tasks (blocked, ready, running, waiting) of unfinished runs,
   * or of one run, in id order, at most `limit`: what `farcaster doctor` checks.
   */
  listOpenTasks(options: { runId?: string; limit: number }): Promise<OpenTaskRecord[]>;
  /** The database: schema version, and its size and sync mode (SQLite) or server version (PostgreSQL). */
  describeDatabase(): Promise<DatabaseInfo>;
  /** Totals of the whole database for /metrics, in one snapshot (a scan of tasks, attempts, steps, gates and events). */
  readMetrics(options: MetricsOptions): Promise<MetricsSnapshot>;
  /** The last `limit` events (of a run, when given), oldest first, with the keys of their tasks. */
  tailEvents(options: { runId?: string; limit: number }): Promise<EventTail>;
  /**
   * Events as they are appended: those after `after`, then each new one, woken
   * by commits (of any process) with polling as the fallback. Ends when
   * `signal` aborts, or once `until()` holds and what came before is read.
   */
  followEvents(options?: FollowOptions & { runId?: string; taskId?: number }): AsyncIterable<EventRecord>;

  /** Reclaims a bounded number of expired leases, then leases up to `limit` ready tasks. */
  claimTasks(worker: string, limit: number, leaseMs: number, options?: ClaimOptions): Promise<ClaimedTask[]>;
  /** The drone is done with an attempt it claimed (every write of it settled): the store drops what it kept for it (its lane). */
  attemptEnded(attemptId: number): void;
  /**
   * When a claim with these options could next find work: at or before now
   * when a task is ready; otherwise the earliest expired lease to reclaim,
   * backoff ending, sleeper waking or gate timing out; null when nothing is
   * scheduled. A read: an idle drone asks it rather than claim for nothing.
   */
  nextDueAt(options?: ClaimOptions): Promise<number | null>;
  /** A count of the changes seen so far (commits here or elsewhere): take it before a read, pass it to waitForChange. */
  changeToken(): number;
  /** Resolves at once if the database changed since `since`, else when it does, when `signal` aborts, or after `maxWaitMs`. */
  waitForChange(options: { since: number; signal?: AbortSignal; maxWaitMs: number }): Promise<void>;
  /** Renews one lease; returns the new expiry. */
  extendLease(taskId: number, attemptId: number, leaseMs: number): Promise<number>;
  /** A drone's heartbeat: renews every lease it holds at once; returns the attempt ids whose lease was lost. */
  renewLeases(worker: string, leases: readonly LeaseRenewal[]): Promise<number[]>;
  /** Journals a step under the lease (it does not renew the lease: heartbeats do). */
  recordStep(taskId: number, attemptId: number, step: StepWrite): Promise<void>;
  completeTask(taskId: number, attemptId: number, output: unknown): Promise<CompleteResult>;
  failTask(taskId: number, attemptId: number, error: TaskError, options?: FailOptions): Promise<FailResult>;
  suspendTask(taskId: number, attemptId: number, options: SuspendOptions): Promise<void>;
  /** Gives the task back (graceful shutdown): ready at once, not counted as a failure or crash. */
  releaseTask(taskId: number, attemptId: number): Promise<void>;
  cancelRun(runId: string, options?: { actor?: string; reason?: string }): Promise<RunRecord>;
  /** The run's budget from its workplan (null when it has none, or is still planning). */
  runBudget(runId: string): Promise<RunBudget | null>;
  /** Model usage recorded so far by the run's completed steps: `turns` counts the steps that reported usage. */
  runModelUsage(runId: string): Promise<{ turns: number; inputTokens: number; outputTokens: number }>;
  /** Reopens a failed or cancelled run's unfinished tasks; an unfinished run is returned as it is. */
  resumeRun(runId: string, options?: { actor?: string }): Promise<{ run: RunRecord; reopened: number }>;

  getGate(gateId: string): Promise<GateRecord>;
  listGates(options?: { runId?: string; pendingOnly?: boolean }): Promise<GateRecord[]>;
  /** Approve or reject (with a reason) a pending gate; the waiting task becomes ready. */
  decideGate(gateId: string, decision: GateDecision): Promise<GateRecord>;

  /** Appends output of a running attempt; dropped (returns 0) when the attempt no longer holds the lease. */
  appendLogs(taskId: number, attemptId: number, entries: readonly LogEntry[]): Promise<number>;
  listLogs(taskId: number, options?: { afterId?: number; limit?: number }): Promise<LogRecord[]>;
  /** A task's last `limit` lines of output, oldest first. */
  tailLogs(taskId: number, limit: number): Promise<LogRecord[]>;
  /** A task's output as it is appended (see followEvents). */
  followLogs(taskId: number, options?: FollowOptions): AsyncIterable<LogRecord>;

  createSchedule(input: ScheduleInput, actor: string): Promise<ScheduleRecord>;
  getSchedule(nameOrId: string): Promise<ScheduleRecord>;
  listSchedules(options?: { enabledOnly?: boolean }): Promise<ScheduleRecord[]>;
  setScheduleEnabled(name: string, enabled: boolean, actor: string): Promise<ScheduleRecord>;
  deleteSchedule(name: string, actor: string): Promise<void>;
  /** Fires one slot: exactly once per (schedule, slot) however many schedulers ask. */
  fireSchedule(request: FireRequest): Promise<FireResult>;
  /**
   * The events of the schedule now named `name` (since it was created under
   * that name: an earlier schedule of the same name that was removed is not
   * this one), the last `limit` (default 100) of `types` (default all), oldest first.
   */
  listScheduleEvents(name: string, options?: { limit?: number; types?: readonly ScheduleEventType[] }): Promise<ScheduleEvent[]>;
  /** Moves past slots that will not fire; true for the one scheduler that recorded it. */
  recordScheduleMissed(scheduleId: string, throughSlot: number, missed: number, policy: string, actor: string): Promise<boolean>;

  /** Records a signal (first write wins) and wakes the tasks waiting for it, in one transaction. */
  emitSignal(name: string, data: unknown, by: string): Promise<EmitResult>;
  getSignal(name: string): Promise<SignalRecord | null>;

  /** Releases the connection; closing twice is harmless. */
  close(): Promise<void>;
}
