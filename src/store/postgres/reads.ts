/**
 * The records a caller reads by id on PostgreSQL: runs, tasks, attempts,
 * steps, gates, dependency outputs, a run's budget and model usage. Each is
 * one statement; the store runs those that must agree in one snapshot
 * (store.ts: read, snapshot). The same answers as the SQLite store's, held
 * to them by the Store contract suite.
 */
import type { SQL } from "bun";
import { NotFoundError } from "../../core/errors.ts";
import { UNFINISHED_RUN_STATES } from "../../core/states.ts";
import type { RunBudget } from "../../core/workplan.ts";
import type { AttemptRecord, GateRecord, RunRecord, StepRecord, TaskRecord } from "../types.ts";
import { GATE_SELECT, RUN_SELECT, TASK_SELECT, toAttempt, toGate, toRun, toStep, toTask, type AttemptRow, type GateRow, type RunRow, type StepRow, type TaskRow } from "./rows.ts";
import { selectRun } from "./runs.ts";
import { inList, jsonb, Params, q } from "./sqlText.ts";

const UNFINISHED = inList(UNFINISHED_RUN_STATES);

export interface RunFilter {
  limit?: number;
  source?: string;
  unfinished?: boolean;
  idempotencyKey?: string;
}

/** Newest first. */
export async function selectRuns(sql: SQL, options: RunFilter): Promise<RunRecord[]> {
  const p = new Params();
  const where: string[] = [];
  if (options.source !== undefined) where.push(`r.source = ${p.add(options.source)}`);
  if (options.idempotencyKey !== undefined) where.push(`r.idempotency_key = ${p.add(options.idempotencyKey)}`);
  if (options.unfinished) where.push(`r.state IN (${UNFINISHED})`);
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  const rows = await q<RunRow>(sql, `${RUN_SELECT} ${filter} ORDER BY r.created_at DESC, r.id DESC LIMIT ${p.add(options.limit ?? 50)}`, p.values);
  return rows.map(toRun);
}

export async function selectTasks(sql: SQL, runId: string): Promise<TaskRecord[]> {
  return (await q<TaskRow>(sql, `${TASK_SELECT} WHERE t.run_id = $1 ORDER BY t.id`, [runId])).map(toTask);
}

export async function selectTask(sql: SQL, taskId: number): Promise<TaskRecord> {
  const [row] = await q<TaskRow>(sql, `${TASK_SELECT} WHERE t.id = $1`, [taskId]);
  if (!row) throw new NotFoundError("task", String(taskId), "list a run's tasks with `farcaster status RUN`");
  return toTask(row);
}

/** A task by its workplan id; a run that is not there is what is reported, not its task. */
export async function selectTaskByKey(sql: SQL, runId: string, key: string): Promise<TaskRecord> {
  const [row] = await q<TaskRow>(sql, `${TASK_SELECT} WHERE t.run_id = $1 AND t.key = $2`, [runId, key]);
  if (!row) {
    await selectRun(sql, runId);
    throw new NotFoundError("task", `${runId}/${key}`, `list the run's tasks with \`farcaster status ${runId}\``);
  }
  return toTask(row);
}

export async function selectAttempts(sql: SQL, taskId: number): Promise<AttemptRecord[]> {
  const rows = await q<AttemptRow>(sql, "SELECT id, task_id, number, worker, state, started_at, heartbeat_at, ended_at, error FROM attempts WHERE task_id = $1 ORDER BY id", [taskId]);
  return rows.map(toAttempt);
}

export async function selectSteps(sql: SQL, taskId: number): Promise<StepRecord[]> {
  const rows = await q<StepRow>(
    sql,
    "SELECT task_id, key, seq, kind, attempt_id, status, input, output, error, started_at, ended_at, usage_input_tokens, usage_output_tokens FROM steps WHERE task_id = $1 ORDER BY seq",
    [taskId],
  );
  return rows.map(toStep);
}

/** Outputs of the tasks `taskId` depends on, by their workplan ids. */
export async function selectDependencyOutputs(sql: SQL, taskId: number): Promise<Record<string, unknown>> {
  const rows = await q<{ key: string; output: string | null }>(
    sql,
    "SELECT d.key, d.output FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = $1 ORDER BY d.key",
    [taskId],
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.output === null ? null : JSON.parse(row.output)]));
}

export async function selectGates(sql: SQL, options: { runId?: string; pendingOnly?: boolean }): Promise<GateRecord[]> {
  const p = new Params();
  const where: string[] = [];
  if (options.runId) where.push(`g.run_id = ${p.add(options.runId)}`);
  if (options.pendingOnly) where.push("g.state = 'pending'");
  const text = `${GATE_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY g.created_at, g.id`;
  return (await q<GateRow>(sql, text, p.values)).map(toGate);
}

/** The run's budget from its workplan (null when it has none, or is still planning). */
export async function selectRunBudget(sql: SQL, runId: string): Promise<RunBudget | null> {
  const [row] = await q<{ budget: string | null }>(sql, `SELECT (${jsonb("workplan")} -> 'budget')::text AS budget FROM run_plans WHERE run_id = $1`, [runId]);
  return row?.budget && row.budget !== "null" ? (JSON.parse(row.budget) as RunBudget) : null;
}

/** Usage of the run's completed steps, plus what journals cleared since had spent (kept on their tasks: gates.ts, clearJournal). */
export async function selectRunModelUsage(sql: SQL, runId: string): Promise<{ turns: number; inputTokens: number; outputTokens: number }> {
  const [row] = await q<{ turns: string | null; input: string | null; output: string | null }>(
    sql,
    `SELECT sum(turns) AS turns, sum(input) AS input, sum(output) AS output FROM (
       SELECT count(*) AS turns, sum(s.usage_input_tokens) AS input, sum(s.usage_output_tokens) AS output
       FROM steps s JOIN tasks t ON t.id = s.task_id
       WHERE t.run_id = $1 AND s.status = 'completed' AND s.usage_input_tokens IS NOT NULL
       UNION ALL
       SELECT sum(spent_turns), sum(spent_input_tokens), sum(spent_output_tokens) FROM tasks WHERE run_id = $1
     ) u`,
    [runId],
  );
  return { turns: Number(row?.turns ?? 0), inputTokens: Number(row?.input ?? 0), outputTokens: Number(row?.output ?? 0) };
}
