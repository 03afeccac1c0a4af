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
 */
import type { BackoffPolicy } from "../core/backoff.ts";
import type { EventRecord, EventType, ScheduleEvent, ScheduleEventType } from "../core/events.ts";
import type {
  AttemptState,
  CatchUpPolicy,
  FailReason,
  FireOutcome,
  GateState,
  GateTimeoutAction,
  LogStream,
  Overlap,
  RejectAction,
  RunState,
  ScheduleTargetKind,
  StepStatus,
  TaskState,
} from "../core/states.ts";

export type { EventRecord, EventType, EventPayloads, ScheduleEvent, ScheduleEventType } from "../core/events.ts";
export type { CatchUpPolicy, Overlap, RejectAction, StepStatus } from "../core/states.ts";
import type { RunBudget, TaskSpec } from "../core/workplan.ts";
import type { FollowOptions } from "./follow.ts";

export type { FollowOptions } from "./follow.ts";

export interface RunRecord {
  id: string;
  goal: string;
  state: RunState;
  source: string | null;
  /** The content hash of what the run was planned from (a goal file's text). */
  sourceHash: string | null;
  cwd: string | null;
  idempotencyKey: string | null;
  /** The hash of the request its idempotency key came with (core/idempotency.ts); null without one. */
  requestHash: string | null;
  tasksTotal: number;
  tasksOpen: number;
  tasksFailed: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface TaskError {
  message: string;
  code?: string;
  name?: string;
}

export interface TaskRecord {
  id: number;
  runId: string;
  key: string;
  title: string;
  description: string | null;
  workflow: string;
  input: unknown;
  scope: TaskSpec["scope"] | null;
  priority: number;
  maxAttempts: number;
  timeoutMs: number | null;
  state: TaskState;
  pendingDeps: number;
  attempts: number;
  failures: number;
  crashes: number;
  availableAt: number;
  attemptId: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  output: unknown;
  error: TaskError | null;
  failReason: FailReason | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Keys of the tasks this one depends on. */
  after: string[];
  /** Gate rejections (with action retry) the next attempt must act on. */
  feedback: Feedback[];
}

/** What a worker receives from a claim: enough to run the task without another read. */
export interface ClaimedTask {
  taskId: number;
  attemptId: number;
  runId: string;
  key: string;
  workflow: string;
  input: unknown;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  timeoutMs: number | null;
  leaseExpiresAt: number;
  /** Gate rejections with action "retry" that this attempt must act on. */
  feedback: Feedback[];
  /** What the task may write and run (agent tasks). */
  scope: TaskSpec["scope"] | null;
  title: string;
  description: string | null;
  /** The run's working directory. */
  cwd: string | null;
  /** Outputs of the tasks this one depends on, by their workplan ids (read with the claim). */
  deps: Record<string, unknown>;
}

/** One lease a drone's heartbeat renews, by its own length. */
export interface LeaseRenewal {
  taskId: number;
  attemptId: number;
  leaseMs: number;
}

export interface AttemptRecord {
  id: number;
  taskId: number;
  number: number;
  worker: string;
  state: AttemptState;
  startedAt: number;
  heartbeatAt: number;
  endedAt: number | null;
  error: TaskError | null;
}


/** What a step spent on a model, recorded with it (a model turn); the run's budget sums these. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface StepRecord {
  taskId: number;
  key: string;
  seq: number;
  kind: string;
  attemptId: number;
  status: StepStatus;
  input: unknown;
  output: unknown;
  error: TaskError | null;
  startedAt: number;
  endedAt: number | null;
  /** Set when the step reported model usage (see ctx.step's `usage` option). */
  usage: ModelUsage | null;
}

export type StepWrite = Omit<StepRecord, "taskId" | "attemptId" | "usage"> & { usage?: ModelUsage | null };

export interface CreateRunOptions {
  source?: string;
  /** The content hash of what the run is planned from, to tell a changed goal file from it later. */
  sourceHash?: string;
  cwd?: string;
  idempotencyKey?: string;
  /** The hash of the request the key came with: the key naming a run made by another request is IdempotencyKeyReusedError. */
  requestHash?: string;
  actor?: string;
}

export interface CreatedRun {
  run: RunRecord;
  /** False when the idempotency key named a run already (this is it). */
  created: boolean;
}

export interface CompleteResult {
  /** Dependents that became ready because of this completion. */
  unblocked: number;
  /** The run's state after the completion (terminal when this was its last open task). */
  runState: RunState;
}

export interface FailOptions {
  /** false: no retry whatever the attempts left (a NonRetryableError, a non-determinism...). */
  retryable?: boolean;
  /** Recorded when the task fails for good; default "error" (or "non_retryable"). */
  reason?: FailReason;
  /** The workflow's retry backoff, instead of the store's default. */
  backoff?: BackoffPolicy;
}

export interface FailResult {
  state: "ready" | "failed";
  /** When the retry may start (state ready). */
  availableAt: number | null;
  /** Dependents skipped because this task failed for good. */
  skipped: number;
  runState: RunState;
}

export interface GateRecord {
  id: string;
  /** The run of the task that asks; null for a schedule's gate. */
  runId: string | null;
  taskId: number | null;
  /** The schedule held until this gate is approved (a frozen plan); null for a task's gate. */
  scheduleId: string | null;
  /** The schedule's name, for display. */
  scheduleName: string | null;
  /** The task's workplan id, for display. */
  taskKey: string | null;
  stepKey: string | null;
  question: string;
  evidence: unknown;
  subjectHash: string | null;
  askedBy: string | null;
  state: GateState;
  decidedBy: string | null;
  decidedAt: number | null;
  reason: string | null;
  action: RejectAction | null;
  timeoutAt: number | null;
  onTimeout: GateTimeoutAction;
  overdueAt: number | null;
  createdAt: number;
}


/** A gate to open as a task suspends on it. */
export interface GateRequest {
  id: string;
  stepKey: string;
  question: string;
  evidence?: unknown;
  subjectHash?: string;
  askedBy: string;
  timeoutAt?: number;
  onTimeout?: GateTimeoutAction;
}

export interface GateDecision {
  approved: boolean;
  by: string;
  /** Required to reject. */
  reason?: string;
  /** On reject: retry the task with the reason as feedback, or fail it (default). */
  action?: RejectAction;
}

/** A rejection the next attempt must act on. */
export interface Feedback {
  gateId: string;
  reason: string;
  by: string;
  at: number;
}

export interface SuspendOptions {
  /** Wake up on its own at this time (a durable sleep); omitted: wait until woken. */
  until?: number;
  reason: string;
  /** A journal entry to record in the same transaction (the waiting step). */
  step?: StepWrite;
  /** A human gate to open in the same transaction. */
  gate?: GateRequest;
  /** Wake up when this signal is emitted (ctx.waitForEvent); if it already was, the task stays ready. */
  waitingFor?: string;
}

export interface LogEntry {
  stream: LogStream;
  text: string;
  at?: number;
}

export interface LogRecord extends LogEntry {
  id: number;
  taskId: number;
  attemptId: number;
  at: number;
}


export interface ScheduleInput {
  name: string;
  cron: string;
  timezone: string;
  /** goal_file: an absolute path read at each fire; goal_text: the goal; workplan: a frozen plan (JSON). */
  targetKind: ScheduleTargetKind;
  target: string;
  cwd?: string;
  overlap: Overlap;
  catchUp: CatchUpPolicy;
  /**
   * A frozen plan a person must see first (a model wrote commands or agents
   * into it): the schedule is created paused, held at a gate with this
   * question and evidence, and runs only the plan approved there (by hash).
   */
  approval?: { question: string; evidence: unknown };
}

export interface ScheduleRecord extends Omit<ScheduleInput, "cwd" | "approval"> {
  id: string;
  cwd: string | null;
  enabled: boolean;
  /** The hash of the frozen plan a person must approve (null: nothing to approve). */
  approvalHash: string | null;
  /** The hash a person approved; the schedule runs the plan only while the two match. */
  approvedHash: string | null;
  /** The latest slot fired, skipped or missed (null: none yet; slots count from createdAt). */
  lastSlot: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface FireRequest {
  scheduleId: string;
  slot: number;
  actor: string;
  goal: string;
  planningInput: unknown;
  /** The goal could not be prepared (a broken goal file): record the fire as failed. */
  error?: string;
  /** A person fired it now (`schedule run`): it fires even while the schedule is paused. */
  manual?: boolean;
}

export type FireResult =
  | { outcome: "fired"; runId: string }
  | { outcome: Exclude<FireOutcome, "fired">; detail: string }
  | { outcome: "duplicate" }
  /** A scheduled fire found the schedule paused (it was paused after the scheduler read it): nothing was written. */
  | { outcome: "paused" };

/** A named, persisted fact a task can wait for; the first emit wins. */
export interface SignalRecord {
  name: string;
  data: unknown;
  emittedBy: string;
  emittedAt: number;
}

export interface EmitResult {
  signal: SignalRecord;
  /** False when the signal had already been emitted: the first write stands. */
  created: boolean;
  /** Waiting tasks this emit made ready. */
  woken: number;
}

export interface ClaimOptions {
  /** Only tasks of these workflows (a worker that knows a subset). */
  workflows?: readonly string[];
  /** Only tasks of this run (the main job's own drones). */
  runId?: string;
  /**
   * Claim in groups, in order, each up to its own limit (and all together up
   * to the claim's): a drone's workflows with a concurrency limit get their
   * headroom, the others share the rest. Replaces `workflows`.
   */
  groups?: readonly ClaimGroup[];
  /**
   * The write lane this claim, and every later write of the attempts it
   * opens, goes through (0 ≤ lane < store.lanes; default 0). See Store.lanes.
   */
  lane?: number;
}

export interface ClaimGroup {
  workflows: readonly string[];
  limit: number;
}

/** A run as one snapshot: the run, all its tasks and gates, and its events after a cursor. */
export interface RunSnapshot {
  run: RunRecord;
  tasks: TaskRecord[];
  gates: GateRecord[];
  events: EventRecord[];
}

/**
 * A task without its input, output, scope and description: what a board of
 * thousands of tasks shows, read in a fraction of the time of TaskRecord.
 */
export type TaskSummary = Pick<
  TaskRecord,
  | "id" | "runId" | "key" | "title" | "workflow" | "state" | "attempts" | "maxAttempts" | "attemptId" | "leaseOwner"
  | "leaseExpiresAt" | "failReason" | "error" | "updatedAt" | "startedAt" | "finishedAt" | "after"
> & {
  /** When the current attempt started (a running task); null otherwise. */
  attemptStartedAt: number | null;
};

/** A run for a viewer: the run, its tasks as summaries (all, or those changed since a time) and its gates, read in one snapshot. */
export interface RunSummary {
  run: RunRecord;
  tasks: TaskSummary[];
  /** How many tasks the run has: more than `tasks` when only changed ones were asked for. */
  taskCount: number;
  gates: GateRecord[];
}

/** Task counts by state, the planning task left out. */
export type StateCounts = Partial<Record<TaskState, number>>;

/** A lease a drone holds now (its task is running), with its attempt's times. */
export interface HeldLease {
  taskId: number;
  runId: string;
  key: string;
  attemptId: number;
  leaseExpiresAt: number;
  startedAt: number;
  heartbeatAt: number;
}

/** A drone as the database knows it: from its attempts and their heartbeats. */
export interface DroneRecord {
  /** The worker id it claims with (`host:pid:…` by default). */
  id: string;
  /** Its latest heartbeat (or attempt start) seen. */
  lastHeartbeatAt: number;
  /** Attempts of its seen among the recent ones. */
  attempts: number;
  /** Workflows of the tasks its recent attempts ran and of the leases it holds, sorted (only when asked: `withWorkflows`). */
  workflows?: string[];
  /** Those of `workflows` that one of its recent attempts finished successfully, sorted (only with `withWorkflows`): evidence that its environment can run them. */
  succeededWorkflows?: string[];
  /** What it holds now, by lease expiry; an expired lease not yet reclaimed stays here. */
  leases: HeldLease[];
}

/** What a drone's recent attempts ran (DroneRecord.workflows) and which of those succeeded (succeededWorkflows). */
export interface DroneWorkflows {
  workflows: string[];
  succeeded: string[];
}

/**
 * An unfinished task as an operator's check sees it (`farcaster doctor`): what
 * it waits on, and who could move it next. Only tasks of unfinished runs.
 */
export interface OpenTaskRecord {
  id: number;
  runId: string;
  key: string;
  workflow: string;
  state: "blocked" | "ready" | "running" | "waiting";
  /** ready: not before; waiting: when its timer ends (a sleep, an event's timeout); null: it waits to be woken. */
  availableAt: number | null;
  /** The event a waiting task waits for (ctx.waitForEvent). */
  waitingFor: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** When its state last changed (a ready task: when it became ready; a waiting one: when it began to wait). */
  updatedAt: number;
  /** Keys of the tasks it depends on, sorted. */
  after: string[];
}

/** The database behind a store, for `farcaster doctor`. */
export type DatabaseInfo =
  | {
      dialect: "sqlite";
      path: string;
      schemaVersion: number;
      /** The newest migration this code knows. */
      latestVersion: number;
      fileBytes: number;
      /** The write-ahead log beside the file (0 when there is none). */
      walBytes: number;
      journalMode: string;
      /** The `synchronous` mode this process's writers use (FARCASTER_SYNC): per connection, not stored in the file. */
      syncMode: "normal" | "full";
    }
  | {
      dialect: "postgres";
      /** The server as a URL without its password. */
      target: string;
      schema: string;
      schemaVersion: number;
      latestVersion: number;
      /** `server_version` as the server reports it. */
      serverVersion: string;
    };
/** Durations bucketed as a Prometheus histogram: observations at or below each bound. */
export interface DurationHistogram {
  /** Upper bounds in ms, ascending, as asked for. */
  boundsMs: number[];
  /** Observations at or below each bound (cumulative). */
  cumulative: number[];
  count: number;
  sumMs: number;
}

/** How a schedule's slots went: fired (a run), skipped (overlap), failed (the goal could not be prepared), missed (not caught up). */
export type ScheduleDecision = "fired" | "skipped" | "failed" | "missed";

/**
 * Totals over the whole database for /metrics, read in one snapshot from
 * what the store records anyway (tasks, attempts, gates, events): every
 * drone's work counts, whichever process did it. Everything but `runs`,
 * `tasks`, `gatesPending` and `oldestPendingGateAt` (the tables now) only
 * grows: it is read from rows the store never deletes (see metrics.ts).
 */
export interface MetricsSnapshot {
  runs: Partial<Record<RunState, number>>;
  /** Tasks now, by workflow and state (the planning tasks are workflow `architect`). */
  tasks: { workflow: string; state: TaskState; count: number }[];
  /** Attempts ever made: one per claim. */
  claims: number;
  /** Attempts by how they ended (a running attempt has not). */
  attemptsEnded: Partial<Record<Exclude<AttemptState, "running">, number>>;
  /** Events by type, all of them ever appended (task.succeeded, task.lease_expired, ...). */
  events: Partial<Record<EventType, number>>;
  /** Schedule decisions by schedule name: `count` events, `slots` the slots they cover (a miss may cover many). */
  schedules: { schedule: string; decision: ScheduleDecision; count: number; slots: number }[];
  gatesPending: number;
  /** When the longest-waiting pending gate was opened (null: none pending). */
  oldestPendingGateAt: number | null;
  /** How long decided gates of runs (a task's or a plan's) waited, by how they ended; a schedule's approval gate is not counted. */
  gateWaits: { state: Exclude<GateState, "pending">; histogram: DurationHistogram }[];
  /** How long ended attempts held their task (claim to end), by the task's workflow and how the attempt ended. */
  attemptDurations: { workflow: string; state: Exclude<AttemptState, "running">; histogram: DurationHistogram }[];
}

export interface MetricsOptions {
  /** Bucket bounds (ms, ascending) of the attempt durations and of the gate waits. */
  attemptBucketsMs: readonly number[];
  gateBucketsMs: readonly number[];
}

/** The last events, oldest first, with the workplan ids of the tasks they name. */
export interface EventTail {
  events: EventRecord[];
  taskKeys: Record<number, string>;
}

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
