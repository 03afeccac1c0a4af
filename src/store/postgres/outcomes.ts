/**
 * How a running task ends: success (its dependents unblocked), or failure (a
 * retry with backoff, or failed for good with its dependents skipped). Each
 * function runs inside the caller's transaction, and the fence is in the
 * statement that writes.
 *
 * Completions have a batched form: the completions of one layer of a batch
 * (distinct tasks) in one statement, which also ends their attempts and
 * unblocks their dependents, a dependent waiting for several of them counted
 * down once by all. The planning task is left out of it (its output becomes
 * the run's tasks: completeTaskTx does that).
 */
import { retryDelayMs, type BackoffPolicy } from "../../core/backoff.ts";
import { LeaseLostError } from "../../core/errors.ts";
import { PLANNING_TASK_KEY, SKIPPABLE_TASK_STATES, type FailReason, type RunState } from "../../core/states.ts";
import { parseWorkplan } from "../../core/workplan.ts";
import type { CompleteResult, FailOptions, FailResult, TaskError } from "../types.ts";
import { appendEvent, closeTasks, type TxContext } from "./context.ts";
import { applyPlan } from "./runs.ts";
import { intArray, textArray } from "./arrays.ts";
import { batchTasks, inList, num, q } from "./sqlText.ts";

export interface FencedTask {
  id: number;
  run_id: string;
  key: string;
  lease_owner: string;
}

export interface CompleteRequest {
  taskId: number;
  attemptId: number;
  /** The output as JSON text. */
  output: string;
}

export type CompleteOutcome = { ok: true; value: CompleteResult } | { ok: false; error: Error } | { ok: "single" };

type DoneRow = { n: number; id: string | null; run_id: string | null; key: string | null; lease_owner: string | null; unblocked_key: string | null };

/**
 * The batched completion: $1 task ids, $2 attempt ids, $3 outputs (JSON
 * texts), $4 now. It ends the attempts and counts down the dependents, a
 * dependent of several counted once by all. (Exported for the plan test.)
 */
export const COMPLETE_TASKS = `WITH i AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS i(task_id, attempt_id, output, n)),
     done AS (
       UPDATE tasks t SET state = 'succeeded', output = i.output, attempt_id = NULL, lease_expires_at = NULL, finished_at = $4, updated_at = $4
       FROM i WHERE ${batchTasks("t", "$1")} AND t.id = i.task_id AND t.attempt_id = i.attempt_id AND t.key <> '${PLANNING_TASK_KEY}'
       RETURNING t.id, t.run_id, t.key, t.lease_owner, i.attempt_id, i.n
     ),
     ended AS (UPDATE attempts a SET state = 'succeeded', ended_at = $4 FROM done d WHERE a.id = d.attempt_id),
     counts AS (SELECT e.task_id, count(*)::int AS n, max(d.n) AS last FROM task_deps e JOIN done d ON d.id = e.depends_on GROUP BY e.task_id),
     locked AS (SELECT t.id FROM tasks t JOIN counts c ON c.task_id = t.id WHERE t.state = 'blocked' ORDER BY t.id FOR UPDATE OF t),
     unblocked AS (
       UPDATE tasks t SET
         pending_deps = t.pending_deps - c.n,
         state = CASE WHEN t.pending_deps = c.n THEN 'ready' ELSE t.state END,
         available_at = CASE WHEN t.pending_deps = c.n THEN $4 ELSE t.available_at END,
         updated_at = $4
       FROM counts c JOIN locked l ON l.id = c.task_id WHERE t.id = c.task_id
       RETURNING t.key, t.state, c.last
     )
     SELECT d.n::int AS n, d.id::text AS id, d.run_id, d.key, d.lease_owner, NULL::text AS unblocked_key FROM done d
     UNION ALL SELECT u.last::int, NULL, NULL, NULL, NULL, u.key FROM unblocked u WHERE u.state = 'ready'`;

/**
 * Completes tasks, each fenced by its (task, attempt). `single` in the
 * outcome: this one must go through completeTaskTx (the planning task).
 */
export async function completeTasks(ctx: TxContext, requests: readonly CompleteRequest[]): Promise<CompleteOutcome[]> {
  const rows = await q<DoneRow>(
    ctx.sql,
    COMPLETE_TASKS,
    [intArray(requests.map((r) => r.taskId)), intArray(requests.map((r) => r.attemptId)), textArray(requests.map((r) => r.output)), ctx.now],
  );
  const outcomes: (CompleteOutcome | undefined)[] = new Array(requests.length);
  const unblockedBy = new Map<number, string[]>();
  const done: DoneRow[] = [];
  for (const row of rows) {
    if (row.unblocked_key !== null) {
      const list = unblockedBy.get(row.n) ?? [];
      list.push(row.unblocked_key);
      unblockedBy.set(row.n, list);
    } else done.push(row);
  }
  done.sort((a, b) => a.n - b.n);
  for (const row of done) {
    const index = row.n - 1;
    const { taskId, attemptId } = requests[index]!;
    const unblocked = unblockedBy.get(row.n) ?? [];
    if (unblocked.length > 0) ctx.ready = true;
    appendEvent(ctx, { type: "task.succeeded", actor: row.lease_owner!, runId: row.run_id!, taskId, attemptId, data: { unblocked } });
    const result: CompleteResult = { unblocked: unblocked.length, runState: "running" };
    closeTasks(ctx, row.run_id!, 1, 0, row.lease_owner!, (state) => (result.runState = state));
    outcomes[index] = { ok: true, value: result };
  }
  const missing = requests.map((_, i) => i).filter((i) => outcomes[i] === undefined);
  if (missing.length > 0) {
    const why = await q<{ n: number; key: string | null; state: string | null; attempt_id: string | null; attempt_state: string | null; run_state: RunState | null }>(
      ctx.sql,
      `SELECT i.n::int AS n, t.key, t.state, t.attempt_id, a.state AS attempt_state, r.state AS run_state
       FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS i(task_id, attempt_id, n)
       LEFT JOIN tasks t ON t.id = i.task_id LEFT JOIN runs r ON r.id = t.run_id LEFT JOIN attempts a ON a.id = i.attempt_id AND a.task_id = i.task_id`,
      [missing.map((i) => requests[i]!.taskId), missing.map((i) => requests[i]!.attemptId)],
    );
    for (const row of why) {
      const index = missing[row.n - 1]!;
      const { taskId, attemptId } = requests[index]!;
      if (row.key === PLANNING_TASK_KEY && row.state === "running" && row.attempt_id !== null && num(row.attempt_id) === attemptId) outcomes[index] = { ok: "single" };
      else if (ctx.replay && row.attempt_state === "succeeded" && row.state === "succeeded") {
        // The COMMIT that completed it was lost with its connection, and had in fact happened.
        outcomes[index] = { ok: true, value: { unblocked: 0, runState: row.run_state ?? "running" } };
      } else outcomes[index] = { ok: false, error: new LeaseLostError(taskId, attemptId, "completing the task") };
    }
  }
  return outcomes as CompleteOutcome[];
}

/** One completion, planning task included: its output is the workplan, and its tasks join the run in this transaction. */
export async function completeTaskTx(ctx: TxContext, taskId: number, attemptId: number, output: string): Promise<CompleteResult> {
  const [row] = await q<{ id: string; run_id: string; key: string; lease_owner: string }>(
    ctx.sql,
    `WITH done AS (
       UPDATE tasks SET state = 'succeeded', output = $1, attempt_id = NULL, lease_expires_at = NULL, finished_at = $2, updated_at = $2
       WHERE id = $3 AND attempt_id = $4 AND state = 'running' RETURNING id, run_id, key, lease_owner
     ), ended AS (UPDATE attempts SET state = 'succeeded', ended_at = $2 WHERE id = $4 AND EXISTS (SELECT 1 FROM done))
     SELECT * FROM done`,
    [output, ctx.now, taskId, attemptId],
  );
  if (!row) {
    if (ctx.replay) {
      const [seen] = await q<{ state: string; run_state: RunState }>(
        ctx.sql,
        "SELECT a.state, r.state AS run_state FROM attempts a JOIN tasks t ON t.id = a.task_id JOIN runs r ON r.id = t.run_id WHERE a.id = $1 AND a.task_id = $2",
        [attemptId, taskId],
      );
      if (seen?.state === "succeeded") return { unblocked: 0, runState: seen.run_state };
    }
    throw new LeaseLostError(taskId, attemptId, "completing the task");
  }
  const task: FencedTask = { id: num(row.id), run_id: row.run_id, key: row.key, lease_owner: row.lease_owner };
  if (task.key === PLANNING_TASK_KEY) await applyPlan(ctx, task.run_id, parseWorkplan(JSON.parse(output), "the planning task's output"), task.lease_owner);
  const unblocked = (
    await q<{ key: string; state: string }>(
      ctx.sql,
      `WITH locked AS (SELECT t.id FROM tasks t JOIN task_deps e ON e.task_id = t.id WHERE e.depends_on = $2 AND t.state = 'blocked' ORDER BY t.id FOR UPDATE OF t)
       UPDATE tasks t SET
         pending_deps = t.pending_deps - 1,
         state = CASE WHEN t.pending_deps = 1 THEN 'ready' ELSE t.state END,
         available_at = CASE WHEN t.pending_deps = 1 THEN $1 ELSE t.available_at END,
         updated_at = $1
       FROM locked WHERE t.id = locked.id
       RETURNING t.key, t.state`,
      [ctx.now, taskId],
    )
  )
    .filter((r) => r.state === "ready")
    .map((r) => r.key);
  if (unblocked.length > 0) ctx.ready = true;
  appendEvent(ctx, { type: "task.succeeded", actor: task.lease_owner, runId: task.run_id, taskId, attemptId, data: { unblocked } });
  const result: CompleteResult = { unblocked: unblocked.length, runState: "running" };
  closeTasks(ctx, task.run_id, 1, 0, task.lease_owner, (state) => (result.runState = state));
  return result;
}

export async function failTaskTx(
  ctx: TxContext,
  taskId: number,
  attemptId: number,
  error: TaskError,
  options: FailOptions,
  backoff: BackoffPolicy,
  random: () => number,
): Promise<FailResult> {
  const errorJson = JSON.stringify(error);
  // The fence and the first write in one statement; the row stays locked for the writes that follow.
  const [row] = await q<{ id: string; run_id: string; key: string; lease_owner: string; failures: number; max_attempts: number }>(
    ctx.sql,
    `WITH g AS (
       SELECT id, run_id, key, lease_owner, failures, max_attempts FROM tasks WHERE id = $1 AND attempt_id = $2 AND state = 'running' FOR UPDATE
     ), ended AS (UPDATE attempts SET state = 'failed', ended_at = $3, error = $4 WHERE id = $2 AND EXISTS (SELECT 1 FROM g))
     SELECT * FROM g`,
    [taskId, attemptId, ctx.now, errorJson],
  );
  if (!row) {
    if (ctx.replay) {
      const [seen] = await q<{ attempt_state: string; state: string; available_at: string; run_state: RunState }>(
        ctx.sql,
        `SELECT a.state AS attempt_state, t.state, t.available_at, r.state AS run_state
         FROM attempts a JOIN tasks t ON t.id = a.task_id JOIN runs r ON r.id = t.run_id WHERE a.id = $1 AND a.task_id = $2`,
        [attemptId, taskId],
      );
      if (seen?.attempt_state === "failed") {
        const retrying = seen.state === "ready";
        return { state: retrying ? "ready" : "failed", availableAt: retrying ? num(seen.available_at) : null, skipped: 0, runState: seen.run_state };
      }
    }
    throw new LeaseLostError(taskId, attemptId, "failing the task");
  }
  const task: FencedTask = { id: num(row.id), run_id: row.run_id, key: row.key, lease_owner: row.lease_owner };
  const failures = row.failures + 1;
  const retryable = options.retryable !== false;
  if (retryable && failures < row.max_attempts) {
    const availableAt = ctx.now + retryDelayMs(failures, options.backoff ?? backoff, random);
    // The retry resumes after the last successful step: failed steps run again, completed ones replay.
    await q(ctx.sql, "DELETE FROM steps WHERE task_id = $1 AND status = 'failed'", [taskId]);
    await q(
      ctx.sql,
      `UPDATE tasks SET state = 'ready', failures = $1, error = $2, attempt_id = NULL, lease_expires_at = NULL, available_at = $3, updated_at = $4
       WHERE id = $5`,
      [failures, errorJson, availableAt, ctx.now, taskId],
    );
    appendEvent(ctx, {
      type: "task.retry_scheduled",
      actor: task.lease_owner,
      runId: task.run_id,
      taskId,
      attemptId,
      data: { error: error.message, failures, maxAttempts: row.max_attempts, availableAt },
    });
    return { state: "ready", availableAt, skipped: 0, runState: "running" };
  }
  const reason: FailReason = options.reason ?? (retryable ? "error" : "non_retryable");
  const result: FailResult = { state: "failed", availableAt: null, skipped: 0, runState: "running" };
  result.skipped = await failForGood(ctx, task, errorJson, reason, failures, task.lease_owner, attemptId, (state) => (result.runState = state));
  return result;
}

/**
 * Marks the task failed and every task downstream of it skipped (they can no
 * longer run), then counts them all as closed for the run. Returns how many were skipped.
 */
export async function failForGood(
  ctx: TxContext,
  task: FencedTask,
  errorJson: string,
  reason: FailReason,
  failures: number,
  actor: string,
  attemptId: number | null,
  onRunState?: (state: RunState) => void,
): Promise<number> {
  await q(
    ctx.sql,
    `UPDATE tasks SET state = 'failed', failures = $1, error = $2, fail_reason = $3, attempt_id = NULL, lease_expires_at = NULL,
       finished_at = $4, updated_at = $4 WHERE id = $5`,
    [failures, errorJson, reason, ctx.now, task.id],
  );
  const skipped = (
    await q<{ key: string }>(
      ctx.sql,
      `WITH RECURSIVE downstream (id) AS (
         SELECT task_id FROM task_deps WHERE depends_on = $1
         UNION
         SELECT e.task_id FROM task_deps e JOIN downstream ON e.depends_on = downstream.id
       ),
       locked AS (SELECT t.id FROM tasks t WHERE t.id IN (SELECT id FROM downstream) AND t.state IN (${inList(SKIPPABLE_TASK_STATES)}) ORDER BY t.id FOR UPDATE)
       UPDATE tasks t SET state = 'skipped', finished_at = $2, updated_at = $2
       FROM locked WHERE t.id = locked.id
       RETURNING t.key`,
      [task.id, ctx.now],
    )
  ).map((row) => row.key);
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
