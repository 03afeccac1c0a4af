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
import type { SQLQueryBindings } from "bun:sqlite";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import { parseWorkplan } from "../../core/workplan.ts";
import type { CompleteResult, StepWrite } from "../types.ts";
import { closeTasks, type TxContext } from "./context.ts";
import { toJson } from "./rows.ts";
import { applyPlan } from "./runs.ts";
import { sql } from "./statements.ts";
import { STEP_INSERT, STEP_UPSERT } from "../stepSql.ts";
import { valuesStatement } from "./valuesRows.ts";

/** (task, attempt, key, seq, kind, status, input, output, error, started, ended, tokens in, out): written only under its lease. */
const RECORD_STEPS = valuesStatement<StepItem>(13, 1, (list) => `${STEP_INSERT}
  SELECT v.column1, v.column3, v.column4, v.column5, v.column2, v.column6, v.column7, v.column8, v.column9,
         v.column10, v.column11, v.column12, v.column13
  FROM (${list}) v JOIN tasks t ON t.id = v.column1 AND t.attempt_id = v.column2 AND t.state = 'running'
  WHERE true
  ${STEP_UPSERT}
  RETURNING task_id`, ({ taskId, attemptId, step }) => [
  taskId, attemptId, step.key, step.seq, step.kind, step.status, toJson(step.input), toJson(step.output), toJson(step.error),
  step.startedAt, step.endedAt, step.usage?.inputTokens ?? null, step.usage?.outputTokens ?? null,
]);

/** ?1 now; (task, attempt, output). */
const COMPLETE_TASKS = valuesStatement<CompletionItem>(3, 2, (list) => `UPDATE tasks
  SET state = 'succeeded', output = v.column3, attempt_id = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1
  FROM (${list}) v
  WHERE tasks.id = v.column1 AND tasks.attempt_id = v.column2 AND tasks.state = 'running'
  RETURNING id, run_id, key, lease_owner`, (item) => [item.taskId, item.attemptId, item.output]);

/** ?1 now; (attempt). */
const END_ATTEMPTS = valuesStatement<CompletionItem>(1, 2, (list) => `UPDATE attempts SET state = 'succeeded', ended_at = ?1 WHERE id IN (${list})`,
  (item) => [item.attemptId]);

/** A task.succeeded event's data; most name no dependent. */
const NOTHING_UNBLOCKED = JSON.stringify({ unblocked: [] });
function unblockedData(keys: readonly string[] | undefined): string {
  return keys === undefined ? NOTHING_UNBLOCKED : JSON.stringify({ unblocked: keys });
}

/** A completion's event, with what the set found out: the task's row and the dependents it readied. */
interface SucceededEvent {
  item: CompletionItem;
  task: DoneRow;
  unblocked: readonly string[] | undefined;
}

/** ?1 now; (task, actor, run, attempt, data, order): in the items' order; the padding rows have no task. */
const SUCCEEDED_EVENTS = valuesStatement<SucceededEvent>(6, 2, (list) => `INSERT INTO events (at, type, actor, run_id, task_id, attempt_id, data)
  SELECT ?1, 'task.succeeded', v.column2, v.column3, v.column1, v.column4, v.column5 FROM (${list}) v
  WHERE v.column1 IS NOT NULL ORDER BY v.column6`,
  ({ item, task, unblocked }, n) => [item.taskId, task.lease_owner, task.run_id, item.attemptId, unblockedData(unblocked), n]);

type DoneRow = { id: number; run_id: string; key: string; lease_owner: string };

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

/** Journals the steps of distinct running attempts: one INSERT per chunk, fenced in its own join. */
export function recordSteps(ctx: TxContext, items: readonly StepItem[]): void[] {
  // Only steps of attempts that hold their lease are written; a waiting step (a sleep, a gate) is completed,
  // a fact is never overwritten (as in leases.ts writeStep). Fewer rows back than items: the slow path says why.
  let written = 0;
  for (const { text, params } of RECORD_STEPS.bind(items)) written += sql<{ task_id: number }, SQLQueryBindings[]>(ctx.db, text).all(...params).length;
  if (written !== items.length) throw new NotAsSet(`${items.length - written} of ${items.length} steps need the one-by-one path`);
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
  const done: DoneRow[] = [];
  for (const { text, params } of COMPLETE_TASKS.bind(items)) done.push(...sql<DoneRow, SQLQueryBindings[]>(ctx.db, text).all(ctx.now, ...params));
  if (done.length !== items.length) throw new NotAsSet(`${items.length - done.length} of ${items.length} completions need the one-by-one path`);
  const byTask = new Map(done.map((row) => [row.id, row]));
  const taskIds = JSON.stringify(items.map((item) => item.taskId));
  for (const { text, params } of END_ATTEMPTS.bind(items)) sql<unknown, SQLQueryBindings[]>(ctx.db, text).run(ctx.now, ...params);
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
  const events = items.map((item) => ({ item, task: byTask.get(item.taskId)!, unblocked: unblockedBy.get(item.taskId) }));
  for (const { text, params } of SUCCEEDED_EVENTS.bind(events)) sql<unknown, SQLQueryBindings[]>(ctx.db, text).run(ctx.now, ...params);
  return items.map((item) => {
    const task = byTask.get(item.taskId)!;
    const result: CompleteResult = { unblocked: unblockedBy.get(item.taskId)?.length ?? 0, runState: "running" };
    closeTasks(ctx, task.run_id, 1, 0, task.lease_owner, (state) => (result.runState = state));
    return result;
  });
}
