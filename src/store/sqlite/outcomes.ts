/**
 * How a running task ends: success (and its dependents unblocked), failure
 * (a retry with backoff, or failed for good with its dependents skipped).
 * Each function runs inside the caller's write transaction and is fenced by
 * (task id, attempt id, state = running).
 */
import { retryDelayMs, type BackoffPolicy } from "../../core/backoff.ts";
import { LeaseLostError } from "../../core/errors.ts";
import { PLANNING_TASK_KEY, SKIPPABLE_TASK_STATES, type FailReason, type RunState } from "../../core/states.ts";
import type { CompleteResult, FailOptions, FailResult, TaskError } from "../types.ts";
import { parseWorkplan } from "../../core/workplan.ts";
import { inList, sql } from "./statements.ts";
import { appendEvent, closeTasks, type TxContext } from "./context.ts";
import { applyPlan } from "./runs.ts";

export interface FencedTask {
  id: number;
  run_id: string;
  key: string;
  lease_owner: string;
}

export function completeTaskTx(ctx: TxContext, taskId: number, attemptId: number, output: string): CompleteResult {
  const task = sql<FencedTask, [string, number, number, number, number]>(
    ctx.db,
    `UPDATE tasks SET state = 'succeeded', output = ?, attempt_id = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
     WHERE id = ? AND attempt_id = ? AND state = 'running'
     RETURNING id, run_id, key, lease_owner`,
  ).get(output, ctx.now, ctx.now, taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "completing the task");
  sql(ctx.db, "UPDATE attempts SET state = 'succeeded', ended_at = ? WHERE id = ?").run(ctx.now, attemptId);
  // The planning task's output is the workplan: its tasks join the run in this same transaction.
  if (task.key === PLANNING_TASK_KEY) applyPlan(ctx, task.run_id, parseWorkplan(JSON.parse(output), "the planning task's output"), task.lease_owner);
  // A dependent becomes ready when its last pending dependency succeeds.
  const unblocked = sql<{ key: string; state: string }, [number, number, number]>(
    ctx.db,
    `UPDATE tasks SET
       pending_deps = pending_deps - 1,
       state = CASE WHEN pending_deps = 1 THEN 'ready' ELSE state END,
       available_at = CASE WHEN pending_deps = 1 THEN ? ELSE available_at END,
       updated_at = ?
     WHERE id IN (SELECT task_id FROM task_deps WHERE depends_on = ?) AND state = 'blocked'
     RETURNING key, state`,
  )
    .all(ctx.now, ctx.now, taskId)
    .filter((row) => row.state === "ready")
    .map((row) => row.key);
  appendEvent(ctx, {
    type: "task.succeeded",
    actor: task.lease_owner,
    runId: task.run_id,
    taskId,
    attemptId,
    data: { unblocked },
  });
  const result: CompleteResult = { unblocked: unblocked.length, runState: "running" };
  closeTasks(ctx, task.run_id, 1, 0, task.lease_owner, (state) => (result.runState = state));
  return result;
}

export function failTaskTx(
  ctx: TxContext,
  taskId: number,
  attemptId: number,
  error: TaskError,
  options: FailOptions,
  backoff: BackoffPolicy,
  random: () => number,
): FailResult {
  const task = sql<FencedTask & { failures: number; max_attempts: number }, [number, number]>(
    ctx.db,
    `SELECT id, run_id, key, lease_owner, failures, max_attempts FROM tasks WHERE id = ? AND attempt_id = ? AND state = 'running'`,
  ).get(taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "failing the task");
  const errorJson = JSON.stringify(error);
  sql(ctx.db, "UPDATE attempts SET state = 'failed', ended_at = ?, error = ? WHERE id = ?").run(ctx.now, errorJson, attemptId);
  const failures = task.failures + 1;
  const retryable = options.retryable !== false;
  if (retryable && failures < task.max_attempts) {
    const availableAt = ctx.now + retryDelayMs(failures, options.backoff ?? backoff, random);
    // The retry resumes after the last successful step: failed steps run again, completed ones replay.
    sql(ctx.db, "DELETE FROM steps WHERE task_id = ? AND status = 'failed'").run(taskId);
    sql(
      ctx.db,
      `UPDATE tasks SET state = 'ready', failures = ?, error = ?, attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
       WHERE id = ?`,
    ).run(failures, errorJson, availableAt, ctx.now, taskId);
    appendEvent(ctx, {
      type: "task.retry_scheduled",
      actor: task.lease_owner,
      runId: task.run_id,
      taskId,
      attemptId,
      data: { error: error.message, failures, maxAttempts: task.max_attempts, availableAt },
    });
    return { state: "ready", availableAt, skipped: 0, runState: "running" };
  }
  const reason: FailReason = options.reason ?? (retryable ? "error" : "non_retryable");
  const result: FailResult = { state: "failed", availableAt: null, skipped: 0, runState: "running" };
  result.skipped = failForGood(ctx, task, errorJson, reason, failures, task.lease_owner, attemptId, (state) => (result.runState = state));
  return result;
}

/**
 * Marks the task failed and every task downstream of it skipped (they can no
 * longer run), then counts them all as closed for the run. Returns how many were skipped.
 */
export function failForGood(
  ctx: TxContext,
  task: FencedTask,
  errorJson: string,
  reason: FailReason,
  failures: number,
  actor: string,
  attemptId: number | null,
  onRunState?: (state: RunState) => void,
): number {
  sql(
    ctx.db,
    `UPDATE tasks SET state = 'failed', failures = ?, error = ?, fail_reason = ?, attempt_id = NULL, lease_expires_at = NULL,
       finished_at = ?, updated_at = ? WHERE id = ?`,
  ).run(failures, errorJson, reason, ctx.now, ctx.now, task.id);
  const skipped = sql<{ key: string }, [number, number, number]>(
    ctx.db,
    `WITH RECURSIVE downstream (id) AS (
       SELECT task_id FROM task_deps WHERE depends_on = ?
       UNION
       SELECT e.task_id FROM task_deps e JOIN downstream ON e.depends_on = downstream.id
     )
     UPDATE tasks SET state = 'skipped', finished_at = ?, updated_at = ?
     WHERE id IN (SELECT id FROM downstream) AND state IN (${inList(SKIPPABLE_TASK_STATES)})
     RETURNING key`,
  )
    .all(task.id, ctx.now, ctx.now)
    .map((row) => row.key);
  appendEvent(ctx, {
    type: "task.failed",
    actor,
    runId: task.run_id,
    taskId: task.id,
    attemptId,
    data: { reason, error: (JSON.parse(errorJson) as TaskError).message, skipped },
  });
  closeTasks(ctx, task.run_id, 1 + skipped.length, 1 + skipped.length, actor, onRunState);
  return skipped.length;
}
