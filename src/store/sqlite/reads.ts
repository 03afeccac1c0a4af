/**
 * The records a caller reads by id on SQLite: runs, tasks, attempts, steps,
 * gates, events, dependency outputs, a run's budget and model usage. Each is
 * one statement; the store runs those that must agree in one read
 * transaction (store.ts: read, snapshot). The same answers as the
 * PostgreSQL store's, held to them by the Store contract suite.
 */
import { NotFoundError } from "../../core/errors.ts";
import { UNFINISHED_RUN_STATES } from "../../core/states.ts";
import type { RunBudget } from "../../core/workplan.ts";
import type { AttemptRecord, EventRecord, GateRecord, RunRecord, StepRecord, TaskRecord } from "../types.ts";
import type { TxContext } from "./context.ts";
import { GATE_SELECT, RUN_SELECT, TASK_SELECT, toAttempt, toEvent, toGate, toRun, toStep, toTask, type AttemptRow, type EventRow, type GateRow, type RunRow, type StepRow, type TaskRow } from "./rows.ts";
import { selectRun } from "./runs.ts";
import { inList, sql } from "./statements.ts";

export interface RunFilter {
  limit?: number;
  source?: string;
  unfinished?: boolean;
  idempotencyKey?: string;
}

/** The conditions of the filters given (a value not undefined), with their parameters in order. */
function filters(conditions: readonly [condition: string, value: string | number | undefined][]): { where: string[]; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const [condition, value] of conditions) {
    if (value === undefined) continue;
    where.push(condition);
    params.push(value);
  }
  return { where, params };
}

/** Newest first. */
export function selectRuns(ctx: TxContext, options: RunFilter): RunRecord[] {
  const { where, params } = filters([
    ["r.source = ?", options.source],
    ["r.idempotency_key = ?", options.idempotencyKey],
  ]);
  if (options.unfinished) where.push(`r.state IN (${inList(UNFINISHED_RUN_STATES)})`);
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  return sql<RunRow, (string | number)[]>(ctx.db, `${RUN_SELECT} ${filter} ORDER BY r.created_at DESC, r.id DESC LIMIT ?`)
    .all(...params, options.limit ?? 50)
    .map(toRun);
}

export function selectTasks(ctx: TxContext, runId: string): TaskRecord[] {
  return sql<TaskRow, [string]>(ctx.db, `${TASK_SELECT} WHERE t.run_id = ? ORDER BY t.id`).all(runId).map(toTask);
}

export function selectTask(ctx: TxContext, taskId: number): TaskRecord {
  const row = sql<TaskRow, [number]>(ctx.db, `${TASK_SELECT} WHERE t.id = ?`).get(taskId);
  if (!row) throw new NotFoundError("task", String(taskId), "list a run's tasks with `farcaster status RUN`");
  return toTask(row);
}

/** A task by its workplan id; a run that is not there is what is reported, not its task. */
export function selectTaskByKey(ctx: TxContext, runId: string, key: string): TaskRecord {
  const row = sql<TaskRow, [string, string]>(ctx.db, `${TASK_SELECT} WHERE t.run_id = ? AND t.key = ?`).get(runId, key);
  if (!row) {
    selectRun(ctx, runId);
    throw new NotFoundError("task", `${runId}/${key}`, `list the run's tasks with \`farcaster status ${runId}\``);
  }
  return toTask(row);
}

export function selectAttempts(ctx: TxContext, taskId: number): AttemptRecord[] {
  return sql<AttemptRow, [number]>(ctx.db, "SELECT * FROM attempts WHERE task_id = ? ORDER BY id").all(taskId).map(toAttempt);
}

export function selectSteps(ctx: TxContext, taskId: number): StepRecord[] {
  return sql<StepRow, [number]>(ctx.db, "SELECT * FROM steps WHERE task_id = ? ORDER BY seq").all(taskId).map(toStep);
}

/** Outputs of the tasks `taskId` depends on, by their workplan ids. */
export function selectDependencyOutputs(ctx: TxContext, taskId: number): Record<string, unknown> {
  const rows = sql<{ key: string; output: string | null }, [number]>(
    ctx.db,
    "SELECT d.key, d.output FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = ? ORDER BY d.key",
  ).all(taskId);
  return Object.fromEntries(rows.map((row) => [row.key, row.output === null ? null : JSON.parse(row.output)]));
}

export function selectGates(ctx: TxContext, options: { runId?: string; pendingOnly?: boolean }): GateRecord[] {
  const { where, params } = filters([["g.run_id = ?", options.runId || undefined]]);
  if (options.pendingOnly) where.push("g.state = 'pending'");
  const text = `${GATE_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY g.created_at, g.id`;
  return sql<GateRow, (string | number)[]>(ctx.db, text).all(...params).map(toGate);
}

export function selectEvents(ctx: TxContext, options: { runId?: string; taskId?: number; afterId: number; limit: number }): EventRecord[] {
  const { where, params } = filters([
    ["id > ?", options.afterId],
    ["run_id = ?", options.runId],
    ["task_id = ?", options.taskId],
  ]);
  return sql<EventRow, (string | number)[]>(ctx.db, `SELECT * FROM events WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`)
    .all(...params, options.limit)
    .map(toEvent);
}

/** The run's budget from its workplan (null when it has none, or is still planning). */
export function selectRunBudget(ctx: TxContext, runId: string): RunBudget | null {
  const row = sql<{ budget: string | null }, [string]>(ctx.db, "SELECT json_extract(workplan, '$.budget') AS budget FROM run_plans WHERE run_id = ?").get(runId);
  return row?.budget ? (JSON.parse(row.budget) as RunBudget) : null;
}

/** Usage of the run's completed steps, plus what journals cleared since had spent (kept on their tasks: gates.ts). */
export function selectRunModelUsage(ctx: TxContext, runId: string): { turns: number; inputTokens: number; outputTokens: number } {
  const row = sql<{ turns: number | null; input: number | null; output: number | null }, [string]>(
    ctx.db,
    `SELECT sum(turns) AS turns, sum(input) AS input, sum(output) AS output FROM (
       SELECT count(*) AS turns, sum(s.usage_input_tokens) AS input, sum(s.usage_output_tokens) AS output
       FROM steps s JOIN tasks t ON t.id = s.task_id
       WHERE t.run_id = ?1 AND s.status = 'completed' AND s.usage_input_tokens IS NOT NULL
       UNION ALL
       SELECT sum(spent_turns), sum(spent_input_tokens), sum(spent_output_tokens) FROM tasks WHERE run_id = ?1
     )`,
  ).get(runId)!;
  return { turns: row.turns ?? 0, inputTokens: row.input ?? 0, outputTokens: row.output ?? 0 };
}
