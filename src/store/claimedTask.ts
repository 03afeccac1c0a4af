/**
 * A claimed task as both stores read it from the task row the claim
 * returns: the row's own columns (its JSON texts parsed here), and what each
 * store finds its own way (ids, the lease's end, the run's directory, the
 * dependencies' outputs).
 */
import type { ClaimedTask } from "./types.ts";

/** The task row's columns a claim returns, as both stores name them. */
export interface ClaimedTaskRow {
  run_id: string;
  key: string;
  workflow: string;
  /** JSON text. */
  input: string;
  attempts: number;
  max_attempts: number;
  /** JSON texts, or null. */
  feedback: string | null;
  scope: string | null;
  title: string;
  description: string | null;
}

export type ClaimedTaskFields = Pick<ClaimedTask, "taskId" | "attemptId" | "timeoutMs" | "leaseExpiresAt" | "cwd" | "deps">;

export function toClaimedTask(row: ClaimedTaskRow, fields: ClaimedTaskFields): ClaimedTask {
  return {
    taskId: fields.taskId,
    attemptId: fields.attemptId,
    runId: row.run_id,
    key: row.key,
    workflow: row.workflow,
    input: JSON.parse(row.input),
    attempt: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: fields.timeoutMs,
    leaseExpiresAt: fields.leaseExpiresAt,
    feedback: row.feedback === null ? [] : JSON.parse(row.feedback),
    scope: row.scope === null ? null : JSON.parse(row.scope),
    title: row.title,
    description: row.description,
    cwd: fields.cwd,
    deps: fields.deps,
  };
}
