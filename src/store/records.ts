/**
 * What the Store keeps and is asked to keep: the records of runs, tasks,
 * attempts, steps, gates, logs, schedules and signals as a caller reads
 * them, and the options and results of the write methods. The Store itself
 * is in types.ts, which re-exports all of this: import from there.
 */
import type { BackoffPolicy } from "../core/backoff.ts";
import type { AttemptState, CatchUpPolicy, FailReason, FireOutcome, GateState, GateTimeoutAction, LogStream, Overlap, RejectAction, RunState, ScheduleTargetKind, StepStatus, TaskState } from "../core/states.ts";
import type { TaskSpec } from "../core/workplan.ts";

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
