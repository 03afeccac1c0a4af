/**
 * The hot path as sets: every step, and every completion, that a batch holds
 * for distinct tasks, applied with one statement per kind of row instead of
 * one per task (see writer.ts, "fast" mode). A statement costs a few
 * microseconds before it touches a row; a task used to pay for about ten of
 * them, which made them most of what a no-op task cost.
 *
 * These functions handle the case where everything is as it should be: each
 * attempt still holds its lease, each step is new. Anything else (a lease
 * lost, a step already recorded) throws NotAsSet, and the writer applies the
 * batch again write by write (leases.ts, outcomes.ts), where each such case
 * has its own answer. The results are the same either way; the contract
 * suite and test/group-commit.test.ts hold both paths to them.
 */
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import { parseWorkplan } from "../../core/workplan.ts";
import type { CompleteResult, StepWrite } from "../types.ts";
import { closeTasks, type TxContext } from "./context.ts";
import { toJson } from "./rows.ts";
import { applyPlan } from "./runs.ts";
import { sql } from "./statements.ts";
import { STEP_INSERT, STEP_UPSERT } from "../stepSql.ts";

/** Something in the set needs the write-by-write path. */
export class NotAsSet extends Error {}

export interface StepItem {
  taskId: number;
  attemptId: number;
  step: StepWrite;
}

export interface CompletionItem {
  taskId: number;
  attemptId: number;
  /** The output as JSON text. */
  output: string;
}

/** Journals the steps of distinct running attempts: one INSERT for all, fenced in its own join. */
export function recordSteps(ctx: TxContext, items: readonly StepItem[]): void[] {
  const rows = items.map(({ taskId, attemptId, step }) => [
    taskId, attemptId, step.key, step.seq, step.kind, step.status, toJson(step.input), toJson(step.output), toJson(step.error),
    step.startedAt, step.endedAt, step.usage?.inputTokens ?? null, step.usage?.outputTokens ?? null,
  ]);
  // Only steps of attempts that hold their lease are written; a waiting step (a sleep, a gate) is completed,
  // a fact is never overwritten (as in leases.ts writeStep). Fewer rows back than items: the slow path says why.
  const written = sql<{ task_id: number }, [string]>(
    ctx.db,
    `${STEP_INSERT}
     SELECT j.value ->> 0, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 1, j.value ->> 5, j.value ->> 6, j.value ->> 7, j.value ->> 8,
            j.value ->> 9, j.value ->> 10, j.value ->> 11, j.value ->> 12
     FROM json_each(?) j JOIN tasks t ON t.id = j.value ->> 0 AND t.attempt_id = j.value ->> 1 AND t.state = 'running'
     WHERE true
     ${STEP_UPSERT}
     RETURNING task_id`,
  ).all(JSON.stringify(rows));
  if (written.length !== items.length) throw new NotAsSet(`${items.length - written.length} of ${items.length} steps need the one-by-one path`);
  return items.map(() => undefined);
}

/**
 * Completes distinct running attempts: their tasks succeed, their attempts
 * end, their dependents whose last dependency this was become ready, and
 * each completion's task.succeeded event names the dependents it readied
 * (a dependent readied by several completions of the set is named by the
 * last of them, as if they had been applied one by one).
 */
export function completeTasks(ctx: TxContext, items: readonly CompletionItem[]): CompleteResult[] {
  const done = sql<{ id: number; run_id: string; key: string; lease_owner: string }, [number, string]>(
    ctx.db,
    `UPDATE tasks SET state = 'succeeded', output = j.value ->> 2, attempt_id = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1
     FROM json_each(?2) j
     WHERE tasks.id = j.value ->> 0 AND tasks.attempt_id = j.value ->> 1 AND tasks.state = 'running'
     RETURNING id, run_id, key, lease_owner`,
  ).all(ctx.now, JSON.stringify(items.map((item) => [item.taskId, item.attemptId, item.output])));
  if (done.length !== items.length) throw new NotAsSet(`${items.length - done.length} of ${items.length} completions need the one-by-one path`);
  const byTask = new Map(done.map((row) => [row.id, row]));
  const taskIds = JSON.stringify(items.map((item) => item.taskId));
  sql<unknown, [number, string]>(ctx.db, "UPDATE attempts SET state = 'succeeded', ended_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))")
    .run(ctx.now, JSON.stringify(items.map((item) => item.attemptId)));
  for (const item of items) {
    const task = byTask.get(item.taskId)!;
    // The planning task's output is the workplan: its tasks join the run in this same transaction.
    if (task.key === PLANNING_TASK_KEY) applyPlan(ctx, task.run_id, parseWorkplan(JSON.parse(item.output), "the planning task's output"), task.lease_owner);
  }
  const readied = sql<{ id: number; key: string; state: string }, [number, string]>(
    ctx.db,
    `UPDATE tasks SET
       pending_deps = pending_deps - d.n,
       state = CASE WHEN pending_deps = d.n THEN 'ready' ELSE state END,
       available_at = CASE WHEN pending_deps = d.n THEN ?1 ELSE available_at END,
       updated_at = ?1
     FROM (SELECT e.task_id, count(*) AS n FROM json_each(?2) j JOIN task_deps e ON e.depends_on = j.value GROUP BY e.task_id) d
     WHERE tasks.id = d.task_id AND tasks.state = 'blocked'
     RETURNING id, key, state`,
  )
    .all(ctx.now, taskIds)
    .filter((row) => row.state === "ready");
  const unblockedBy = new Map<number, string[]>();
  if (readied.length > 0) {
    const position = new Map(items.map((item, i) => [item.taskId, i]));
    // The readied tasks' edges, looked up by dependent only; those to tasks outside this set are skipped
    // here. Probing (dependent, dependency) pairs walked readied × set: a diamond's root readying 98 tasks
    // in a set of 128 made 12,544 index probes, 20 µs per task of a fan-out.
    const deps = sql<{ task_id: number; depends_on: number }, [string]>(
      ctx.db,
      `SELECT task_id, depends_on FROM task_deps WHERE task_id IN (SELECT value FROM json_each(?1))`,
    ).all(JSON.stringify(readied.map((row) => row.id)));
    const last = new Map<number, number>();
    for (const dep of deps) {
      const at = position.get(dep.depends_on);
      if (at !== undefined && (last.get(dep.task_id) ?? -1) < at) last.set(dep.task_id, at);
    }
    for (const row of readied) {
      const by = items[last.get(row.id)!]!.taskId;
      let keys = unblockedBy.get(by);
      if (!keys) unblockedBy.set(by, (keys = []));
      keys.push(row.key);
    }
  }
  const events = items.map((item) => {
    const task = byTask.get(item.taskId)!;
    return [task.lease_owner, task.run_id, item.taskId, item.attemptId, JSON.stringify({ unblocked: unblockedBy.get(item.taskId) ?? [] })];
  });
  sql<unknown, [number, string]>(
    ctx.db,
    `INSERT INTO events (at, type, actor, run_id, task_id, attempt_id, data)
     SELECT ?1, 'task.succeeded', value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?2) ORDER BY key`,
  ).run(ctx.now, JSON.stringify(events));
  return items.map((item) => {
    const task = byTask.get(item.taskId)!;
    const result: CompleteResult = { unblocked: unblockedBy.get(item.taskId)?.length ?? 0, runState: "running" };
    closeTasks(ctx, task.run_id, 1, 0, task.lease_owner, (state) => (result.runState = state));
    return result;
  });
}
