/**
 * Closed sets: every state, status, policy and kind the store records. Each
 * is a frozen constant here and a CHECK constraint in the schema; a test
 * (test/catalogs.test.ts) finds every CHECK in the migrated schema and fails
 * unless it lists exactly the values of its constant. SQL that names a list
 * of states builds it from these constants (src/store/sqlite/statements.ts `inList`).
 *
 * Task:    blocked -> ready -> running -> succeeded | failed
 *          running -> waiting (gate, sleep, event; lease released) -> ready
 *          running -> ready (retry with backoff, lease expired, released)
 *          any open state -> cancelled; open dependents of a failed task -> skipped
 * Run:     planning -> awaiting_approval -> running -> succeeded | failed | cancelled
 * Attempt: running -> succeeded | failed | crashed | released | suspended | cancelled
 * Gate:    pending -> approved | rejected | expired | cancelled
 */
export const TASK_STATES = Object.freeze([
  "blocked",
  "ready",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const);
export type TaskState = (typeof TASK_STATES)[number];

/** Tasks that may still run: cancelling a run closes them, a failure skips the downstream ones. */
export const OPEN_TASK_STATES = Object.freeze(["blocked", "ready", "running", "waiting"] as const satisfies readonly TaskState[]);
/** Open tasks that are not running: what a failure upstream turns into `skipped`. */
export const SKIPPABLE_TASK_STATES = Object.freeze(["blocked", "ready", "waiting"] as const satisfies readonly TaskState[]);
/** Tasks a resumed run reopens. */
export const REOPENABLE_TASK_STATES = Object.freeze(["failed", "cancelled", "skipped"] as const satisfies readonly TaskState[]);

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(["succeeded", "failed", "cancelled", "skipped"]);

export const RUN_STATES = Object.freeze([
  "planning",
  "awaiting_approval",
  "running",
  "succeeded",
  "failed",
  "cancelled",
] as const);
export type RunState = (typeof RUN_STATES)[number];

/** Runs that have not ended: their tasks may still be claimed. */
export const UNFINISHED_RUN_STATES = Object.freeze(["planning", "awaiting_approval", "running"] as const satisfies readonly RunState[]);
export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(["succeeded", "failed", "cancelled"]);

export const ATTEMPT_STATES = Object.freeze([
  "running",
  "succeeded",
  "failed",
  "crashed",
  "released",
  "suspended",
  "cancelled",
] as const);
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** `cancelled`: the run was cancelled while the gate was pending; nobody can decide it any more. */
export const GATE_STATES = Object.freeze(["pending", "approved", "rejected", "expired", "cancelled"] as const);
export type GateState = (typeof GATE_STATES)[number];

/** What happens to a task whose gate was rejected: run again with the reason as feedback, or fail. */
export const REJECT_ACTIONS = Object.freeze(["retry", "fail"] as const);
export type RejectAction = (typeof REJECT_ACTIONS)[number];

/** What a gate's timeout does: fail its task, or mark the gate overdue (escalate). Never approve. */
export const GATE_TIMEOUT_ACTIONS = Object.freeze(["fail", "escalate"] as const);
export type GateTimeoutAction = (typeof GATE_TIMEOUT_ACTIONS)[number];

/** Why a task ended in `failed`, when it was not simply its workflow's error. */
/** `rejected`: a person rejected the task's gate (action fail); resuming asks them again. */
export const FAIL_REASONS = Object.freeze(["error", "non_retryable", "timeout", "recovery_limit", "exhausted", "rejected"] as const);
export type FailReason = (typeof FAIL_REASONS)[number];

/** A journal entry: a fact (completed, failed) or a step the task is suspended on (waiting). */
export const STEP_STATUSES = Object.freeze(["completed", "failed", "waiting"] as const);
export type StepStatus = (typeof STEP_STATUSES)[number];

export const LOG_STREAMS = Object.freeze(["stdout", "stderr", "info"] as const);
export type LogStream = (typeof LOG_STREAMS)[number];

/** A schedule fires while its previous run is unfinished: skip the slot, run both, or cancel the previous one. */
export const SCHEDULE_OVERLAPS = Object.freeze(["skip", "allow", "cancel-previous"] as const);
export type Overlap = (typeof SCHEDULE_OVERLAPS)[number];

/** Slots missed while no scheduler ran: fire the latest, all (bounded), or none. */
export const CATCH_UP_POLICIES = Object.freeze(["latest", "all", "none"] as const);
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** What a schedule runs: a goal file read at each fire, a goal text, or a frozen workplan. */
export const SCHEDULE_TARGET_KINDS = Object.freeze(["goal_file", "goal_text", "workplan"] as const);
export type ScheduleTargetKind = (typeof SCHEDULE_TARGET_KINDS)[number];

export const FIRE_OUTCOMES = Object.freeze(["fired", "skipped", "failed"] as const);
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];

/**
 * The reserved key of a run's planning task (workflow `architect`): its output
 * is the run's workplan. Workplan ids cannot contain "@", so it never collides.
 */
export const PLANNING_TASK_KEY = "@plan";
