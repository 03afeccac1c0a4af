/**
 * Typed errors with stable codes. The code is the contract (CLI exit paths,
 * HTTP mapping, tests); the message names the entity and the fix.
 */
export class FarcasterError extends Error {
  readonly code: string;
  readonly details?: unknown;
  constructor(code: string, message: string, options: { cause?: unknown; details?: unknown } = {}) {
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

export class NotFoundError extends FarcasterError {
  constructor(entity: "run" | "task" | "attempt" | "gate" | "schedule" | "file", id: string, hint?: string) {
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

export class InputError extends FarcasterError {
  constructor(message: string, details?: unknown) {
    super("bad_input", message, { details });
  }
}
