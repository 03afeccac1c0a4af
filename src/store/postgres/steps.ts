/**
 * The journal: a step is recorded under its attempt's lease. A step recorded
 * as waiting (a sleep, a gate) is completed later by a later attempt; a
 * completed or failed step is a fact and is never overwritten.
 *
 * The batched form records the steps of many tasks in one statement: the
 * fence (a share lock on each task row that still holds the attempt, so no
 * reclaim can slip in before COMMIT) and the insert are one statement, and
 * it reports per step whether the lease held and whether the row was written.
 */
import { LeaseLostError } from "../../core/errors.ts";
import type { StepWrite } from "../types.ts";
import type { TxContext } from "./context.ts";
import { intArray, textArray } from "./arrays.ts";
import { batchTasks, q, toJson } from "./sqlText.ts";
import { STEP_INSERT, STEP_UPSERT } from "../stepSql.ts";

export interface StepRequest {
  taskId: number;
  attemptId: number;
  step: StepWrite;
}

export type StepOutcome = { ok: true } | { ok: false; error: Error };

function alreadyRecorded(taskId: number, key: string): Error {
  return new Error(`step "${key}" of task ${taskId} is already recorded; replay must return it instead of running it again`);
}

/**
 * Records steps, each fenced by its (task, attempt). The requests must name
 * distinct tasks (the writer puts a task's second write in a later layer), so
 * no row is written twice by the statement.
 */
export async function recordSteps(ctx: TxContext, requests: readonly StepRequest[]): Promise<StepOutcome[]> {
  const ints = (pick: (r: StepRequest) => number | null | undefined) => intArray(requests.map(pick));
  const texts = (pick: (r: StepRequest) => string | null) => textArray(requests.map(pick));
  const rows = await q<{ n: string; held: boolean; written: boolean; mine: boolean }>(
    ctx.sql,
    `WITH i AS (
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[],
                            $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
         WITH ORDINALITY AS i(task_id, attempt_id, key, seq, kind, status, input, output, error, started_at, ended_at, usage_in, usage_out, n)
     ),
     held AS (
       SELECT t.id FROM tasks t JOIN i ON t.id = i.task_id AND t.attempt_id = i.attempt_id
       WHERE ${batchTasks("t", "$1")} ORDER BY t.id FOR SHARE OF t
     ),
     written AS (
       ${STEP_INSERT}
       SELECT i.task_id, i.key, i.seq, i.kind, i.attempt_id, i.status, i.input, i.output, i.error, i.started_at, i.ended_at, i.usage_in, i.usage_out
       FROM i JOIN held h ON h.id = i.task_id ORDER BY i.n
       ${STEP_UPSERT}
       RETURNING task_id
     )
     SELECT i.n, EXISTS (SELECT 1 FROM held h WHERE h.id = i.task_id) AS held, EXISTS (SELECT 1 FROM written w WHERE w.task_id = i.task_id) AS written,
       ${ctx.replay ? "EXISTS (SELECT 1 FROM steps s WHERE s.task_id = i.task_id AND s.key = i.key AND s.attempt_id = i.attempt_id AND s.status = i.status)" : "false"} AS mine
     FROM i ORDER BY i.n`,
    [
      ints((r) => r.taskId),
      ints((r) => r.attemptId),
      texts((r) => r.step.key),
      ints((r) => r.step.seq),
      texts((r) => r.step.kind),
      texts((r) => r.step.status),
      texts((r) => toJson(r.step.input)),
      texts((r) => toJson(r.step.output)),
      texts((r) => toJson(r.step.error)),
      ints((r) => r.step.startedAt),
      ints((r) => r.step.endedAt),
      ints((r) => r.step.usage?.inputTokens),
      ints((r) => r.step.usage?.outputTokens),
    ],
  );
  return rows.map((row, index): StepOutcome => {
    const { taskId, attemptId, step } = requests[index]!;
    if (row.written) return { ok: true };
    // A replayed batch (its COMMIT was lost) finds its own step already recorded: that is success.
    if (ctx.replay && row.mine) return { ok: true };
    if (!row.held) return { ok: false, error: new LeaseLostError(taskId, attemptId, `recording step "${step.key}"`) };
    return { ok: false, error: alreadyRecorded(taskId, step.key) };
  });
}

/** One step, written by a transition that already holds the task's fence (a suspension). */
export async function writeStep(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite): Promise<void> {
  const written = await q(
    ctx.sql,
    `${STEP_INSERT}
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ${STEP_UPSERT}
     RETURNING task_id`,
    [taskId, step.key, step.seq, step.kind, attemptId, step.status, toJson(step.input), toJson(step.output), toJson(step.error),
      step.startedAt, step.endedAt, step.usage?.inputTokens ?? null, step.usage?.outputTokens ?? null],
  );
  if (written.length === 0) throw alreadyRecorded(taskId, step.key);
}
