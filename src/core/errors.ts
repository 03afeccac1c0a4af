/**
 * Typed errors with stable codes. The code is the contract (CLI exit paths,
 * HTTP mapping, tests); the message names the entity and the fix. Every code
 * Farcaster raises is in ERROR_CODES: a new one is added there first.
 */
import type { FailReason } from "./states.ts";

export const NOT_FOUND_ENTITIES = Object.freeze(["run", "task", "attempt", "gate", "schedule", "file", "database", "signal"] as const);
export type NotFoundEntity = (typeof NOT_FOUND_ENTITIES)[number];

export const ERROR_CODES = Object.freeze([
  // the command line and its input
  "usage",
  "bad_input",
  "goal_changed",
  "plan_invalid",
  "too_large",
  "too_deep",
  "goal_file_unreadable",
  "goal_file_outside_roots",
  ...NOT_FOUND_ENTITIES.map((entity) => `${entity}_not_found` as const),
  // the store
  "lease_lost",
  "invalid_transition",
  "gate_not_pending",
  "conflict",
  "idempotency_key_reused",
  "store_busy",
  "store_unreachable",
  "store_read_only",
  "store_closed",
  "database_too_new",
  "database_too_old",
  "migration_failed",
  "database_unusable",
  // running tasks
  "non_retryable",
  "non_determinism",
  "step_output_not_json",
  "step_failed",
  "timeout",
  "shutdown",
  "lease_expired",
  "recovery_limit",
  "gate_rejected",
  "gate_timeout",
  "budget_exhausted",
  "workflow_load_failed",
  // models
  "no_model",
  "model_misconfigured",
  "model_call_failed",
  // agent scope
  "bad_workspace",
  "outside_workspace",
  "symlink_escape",
  "not_in_write_scope",
  "no_write_scope",
  "protected_path",
  // HTTP
  "unauthorized",
  "route_not_found",
  "body_too_large",
  "bad_request",
  "bad_json",
  "internal",
] as const);
export type ErrorCode = (typeof ERROR_CODES)[number];

export class FarcasterError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** One problem found in a workplan, with the path of the offending field. */
export interface PlanIssue {
  path: string;
  message: string;
}

export class PlanInvalidError extends FarcasterError {
  readonly issues: readonly PlanIssue[];
  constructor(issues: readonly PlanIssue[], source?: string) {
    const where = source ? ` in ${source}` : "";
    const lines = issues.map((issue) => `  - ${issue.path ? issue.path + ": " : ""}${issue.message}`);
    super("plan_invalid", `workplan${where} is invalid (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${lines.join("\n")}`, {
      details: issues,
    });
    this.issues = issues;
  }
}

/** `hint` says where to look, as the CLI would (the HTTP edge says it in routes instead, see api/errors.ts). */
export class NotFoundError extends FarcasterError {
  constructor(readonly entity: NotFoundEntity, readonly id: string, hint?: string) {
    super(`${entity}_not_found`, `${entity} "${id}" not found${hint ? `; ${hint}` : ""}`);
  }
}

/**
 * A write on behalf of an attempt that no longer holds the task's lease
 * (it expired and was reclaimed, the task was cancelled, or the attempt already ended).
 * The drone must stop working on the task and commit nothing more for it.
 */
export class LeaseLostError extends FarcasterError {
  constructor(taskId: number, attemptId: number, operation: string) {
    super(
      "lease_lost",
      `attempt ${attemptId} no longer holds the lease on task ${taskId}; ${operation} was not recorded (the lease expired and was reclaimed, or the task was cancelled)`,
    );
  }
}

export class InvalidTransitionError extends FarcasterError {
  constructor(entity: string, id: string, from: string, to: string, why?: string) {
    super("invalid_transition", `${entity} ${id} cannot go from ${from} to ${to}${why ? `: ${why}` : ""}`);
  }
}

/** A database file that cannot be used as one: not SQLite, damaged, unreadable, a directory, another program's. Nothing was written to it. */
export class DatabaseUnusableError extends FarcasterError {
  constructor(path: string, problem: string, options: { cause?: unknown } = {}) {
    super("database_unusable", `database ${path} ${problem}`, options);
  }
}

export class DatabaseTooNewError extends FarcasterError {
  constructor(path: string, dbVersion: number, codeVersion: number) {
    super(
      "database_too_new",
      `database ${path} is at schema version ${dbVersion}, but this farcaster only knows migrations up to ${codeVersion}; upgrade farcaster (or point --db at another file)`,
    );
  }
}

export class MigrationError extends FarcasterError {
  constructor(file: string, cause: unknown) {
    super("migration_failed", `migration ${file} failed and was rolled back: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

export class UsageError extends FarcasterError {
  constructor(message: string) {
    super("usage", message);
  }
}

/**
 * Running a goal file again whose unfinished run was planned from other
 * content: which to go on with is the person's call, not ours (exit 2).
 */
export class GoalChangedError extends FarcasterError {
  constructor(file: string, runId: string) {
    super(
      "goal_changed",
      `${file} changed since its unfinished run ${runId} was planned from it; continue the old plan with \`farcaster resume ${runId}\`, or plan the new content with \`farcaster ${file} --new\``,
    );
  }
}

/** What was asked would make a second of something that must be unique (a schedule's name): HTTP 409, CLI exit 1. */
export class ConflictError extends FarcasterError {
  constructor(message: string) {
    super("conflict", message);
  }
}

/** An idempotency key sent again with another request (see core/idempotency.ts): HTTP 422. */
export class IdempotencyKeyReusedError extends FarcasterError {
  constructor(key: string, runId: string) {
    super(
      "idempotency_key_reused",
      `Idempotency-Key "${key}" was first sent with another request, which made run ${runId}; send that same request to get the run again, or use a new key for new work`,
    );
  }
}

export class InputError extends FarcasterError {
  constructor(message: string, details?: unknown) {
    super("bad_input", message, { details });
  }
}

/**
 * Thrown by workflow code to fail its task at once, whatever retries are left.
 * `reason` is the fail reason recorded on the task (default "non_retryable"):
 * a workflow says why it gave up, and the engine needs to know no workflow.
 */
export class NonRetryableError extends FarcasterError {
  readonly reason: FailReason;
  constructor(message: string, options: { cause?: unknown; code?: ErrorCode; reason?: FailReason } = {}) {
    super(options.code ?? "non_retryable", message, { cause: options.cause });
    this.reason = options.reason ?? "non_retryable";
  }
}

/**
 * The journal holds a step of one kind at a key where the code now asks for
 * another: the workflow changed under a running task, or it branches on
 * something that is not journaled. Replaying would be wrong, so the task fails.
 */
export class NonDeterminismError extends FarcasterError {
  constructor(taskLabel: string, key: string, recordedKind: string, requestedKind: string) {
    super(
      "non_determinism",
      `task ${taskLabel}: step "${key}" was recorded as ${recordedKind} but the workflow now asks for ${requestedKind} there; ` +
        "workflow code must make the same calls in the same order on replay (journal anything non-deterministic with ctx.step, ctx.now or ctx.random)",
    );
  }
}

/** A step returned something that cannot be stored as JSON, or is over the journal's limits (too deep, too large). */
export class StepOutputError extends FarcasterError {
  constructor(taskLabel: string, key: string, problem: string, fix = "return plain data (objects, arrays, strings, numbers, booleans, null)") {
    super("step_output_not_json", `task ${taskLabel}: the output of step "${key}" cannot be journaled as JSON: ${problem}; ${fix}`);
  }
}

/** The attempt ran past its task's timeout. */
export class TaskTimeoutError extends FarcasterError {
  constructor(taskLabel: string, timeoutMs: number) {
    super("timeout", `task ${taskLabel} timed out after ${timeoutMs} ms`);
  }
}

/**
 * A step that failed in an earlier attempt of this task, replayed as the same
 * failure. `recordedCode` is the code the original error had (any string: it
 * may have come from a library), and what the task's error records.
 */
export class StepFailedError extends FarcasterError {
  readonly stepKey: string;
  readonly recordedCode: string | undefined;
  constructor(key: string, message: string, recordedCode?: string) {
    super("step_failed", message);
    this.stepKey = key;
    this.recordedCode = recordedCode;
  }
}

export class WorkflowLoadError extends FarcasterError {
  constructor(message: string, cause?: unknown) {
    super("workflow_load_failed", message, { cause });
  }
}

export class GateNotPendingError extends FarcasterError {
  constructor(gateId: string, state: string, decidedBy: string | null) {
    super("gate_not_pending", `gate ${gateId} is no longer pending: it was ${state}${decidedBy ? ` by ${decidedBy}` : ""}; the first decision stands`);
  }
}

/** A person rejected the task's gate and chose to fail it (fail reason "rejected": resuming asks again). */
export class GateRejectedError extends NonRetryableError {
  constructor(gateId: string, by: string, reason: string) {
    super(`rejected by ${by} at gate ${gateId}: ${reason}`, { code: "gate_rejected", reason: "rejected" });
  }
}

/** The database stayed write-locked by another process past the store's patience. */
export class StoreBusyError extends FarcasterError {
  /** `what`: what was being done ("opening /path/farcaster.db"), when known. */
  constructor(waitedMs: number, what?: string, cause?: unknown) {
    super(
      "store_busy",
      `${what ? `${what}: ` : ""}the database stayed locked by another process for ${Math.round(waitedMs)} ms (another process may be recovering a crashed writer's journal, or be stuck holding a write transaction); try again, or find that process`,
      { cause },
    );
  }
}

/**
 * The database server could not be reached, or the connection to it broke
 * and retrying did not help: what was asked may or may not have been done
 * (a COMMIT lost with its connection). The message names the server and what
 * to check.
 */
export class StoreUnreachableError extends FarcasterError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("store_unreachable", message, options);
  }
}

/** A write asked of a store after close() (a drone or a follower left running): said plainly, not as the driver's error. */
export class StoreClosedError extends FarcasterError {
  constructor(operation: string) {
    super("store_closed", `${operation}: the store is closed`);
  }
}

/** A write asked of a store opened read-only (a viewer: status, the dashboard). */
export class ReadOnlyStoreError extends FarcasterError {
  constructor(operation: string) {
    super("store_read_only", `${operation} needs to write, but this store was opened read-only`);
  }
}

/** A read-only opener found a database its migrations have not reached yet: it may not migrate it. */
export class DatabaseTooOldError extends FarcasterError {
  constructor(path: string, dbVersion: number, codeVersion: number) {
    super(
      "database_too_old",
      `database ${path} is at schema version ${dbVersion}, and this farcaster needs ${codeVersion}; a read-only command does not upgrade it: run one that writes first (farcaster worker, farcaster run, farcaster serve)`,
    );
  }
}

/** A goal or plan file that is not a regular file, or whose read failed (EACCES, EIO…). */
export class FileUnreadableError extends FarcasterError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("goal_file_unreadable", message, options);
  }
}

/** A goal file named over HTTP that lies outside the server's goal roots (symlinks resolved). */
export class OutsideGoalRootsError extends FarcasterError {
  constructor(path: string, roots: readonly string[]) {
    super(
      "goal_file_outside_roots",
      `goalFile ${path} is outside the server's goal roots (${roots.join(", ")}): the server reads goal files only under them; start it with \`farcaster serve --goal-root DIR\` to allow another directory, or send the goal itself as "goal"`,
    );
  }
}
