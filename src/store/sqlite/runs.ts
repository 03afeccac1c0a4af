/** Runs: creating one (from a workplan, or to be planned), adding its plan, cancelling it. */
import type { SQLQueryBindings } from "bun:sqlite";
import { InvalidTransitionError, NotFoundError } from "../../core/errors.ts";
import { newId } from "../../core/ids.ts";
import { refuseOtherRequest, requestHashOf } from "../../core/idempotency.ts";
import { OPEN_TASK_STATES, PLANNING_TASK_KEY, REOPENABLE_TASK_STATES, TERMINAL_RUN_STATES, UNFINISHED_RUN_STATES } from "../../core/states.ts";
import type { ValidWorkplan } from "../../core/workplan.ts";
import type { CreatedRun, CreateRunOptions, RunRecord } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { RUN_SELECT, toJson, toRun, type RunRow } from "./rows.ts";
import { inList, sql } from "./statements.ts";
import { valuesStatement } from "./valuesRows.ts";

/** Runs still before their plan's tasks run: applying the plan starts them. */
const PLANNING_RUN_STATES = UNFINISHED_RUN_STATES.filter((state) => state !== "running");
const REOPENABLE = inList(REOPENABLE_TASK_STATES);

export function selectRun(ctx: TxContext, runId: string): RunRecord {
  const row = sql<RunRow, [string]>(ctx.db, `${RUN_SELECT} WHERE r.id = ?`).get(runId);
  if (!row) throw new NotFoundError("run", runId, "list runs with `farcaster status`");
  return toRun(row);
}

/** The run the idempotency key names, if any (refused when another request made it). */
function existingRun(ctx: TxContext, options: CreateRunOptions): RunRecord | null {
  if (!options.idempotencyKey) return null;
  const row = sql<RunRow, [string]>(ctx.db, `${RUN_SELECT} WHERE r.idempotency_key = ?`).get(options.idempotencyKey);
  if (!row) return null;
  const run = toRun(row);
  refuseOtherRequest(run, options.requestHash);
  return run;
}

function insertRunRow(ctx: TxContext, goal: string, state: "planning" | "running", workplan: string | null, tasks: number, options: CreateRunOptions): string {
  const runId = newId("r", ctx.now);
  sql(
    ctx.db,
    `INSERT INTO runs (id, state, source, source_hash, cwd, idempotency_key, request_hash, tasks_total, tasks_open, tasks_failed, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
  ).run(runId, state, options.source ?? null, options.sourceHash ?? null, options.cwd ?? null, options.idempotencyKey ?? null, requestHashOf(options), tasks, tasks, ctx.now, ctx.now);
  sql(ctx.db, "INSERT INTO run_plans (run_id, goal, workplan) VALUES (?, ?, ?)").run(runId, goal, workplan);
  return runId;
}

/** A plan's task, with the run it joins. */
interface PlannedTask {
  runId: string;
  task: ValidWorkplan["plan"]["tasks"][number];
}

/** ?1 now; (run, key, title, description, workflow, input, scope, priority, max attempts, timeout, state, pending deps, order): in plan order (column13), so task ids follow the plan; the padding rows have no run. */
const INSERT_TASKS = valuesStatement<PlannedTask>(13, 2, (list) => `INSERT INTO tasks (run_id, key, title, description, workflow, input, scope, priority, max_attempts, timeout_ms,
                      state, pending_deps, available_at, created_at, updated_at)
   SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9, v.column10,
          v.column11, v.column12, ?1, ?1, ?1
   FROM (${list}) v WHERE v.column1 IS NOT NULL ORDER BY v.column13
   RETURNING id, key`, ({ runId, task }, n) => [
  runId, task.id, task.title, task.description ?? null, task.workflow, JSON.stringify(task.input ?? {}), toJson(task.scope),
  task.priority ?? 0, (task.retries ?? 0) + 1, task.timeout ?? null, task.after.length === 0 ? "ready" : "blocked", task.after.length, n,
]);

/**
 * Inserts a plan's tasks and edges into a run. Tasks without dependencies are
 * ready at once; the others are blocked with their count of pending dependencies.
 * The tasks go 128 to a statement (valuesRows.ts): one statement a task cost
 * ~10.6 µs, most of the time a plan of 60,000 tasks took to start.
 */
function insertTasks(ctx: TxContext, runId: string, valid: ValidWorkplan): void {
  const ids = new Map<string, number>();
  for (const { text, params } of INSERT_TASKS.bind(valid.plan.tasks.map((task) => ({ runId, task })))) {
    for (const row of sql<{ id: number; key: string }, SQLQueryBindings[]>(ctx.db, text).all(ctx.now, ...params)) ids.set(row.key, row.id);
  }
  const insertEdge = sql(ctx.db, "INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)");
  for (const task of valid.plan.tasks) for (const dep of task.after) insertEdge.run(ids.get(task.id)!, ids.get(dep)!);
}

/** A run from a workplan, running at once. The caller holds a write transaction: a failure leaves nothing. */
export function insertRun(ctx: TxContext, valid: ValidWorkplan, options: CreateRunOptions): RunRecord {
  const existing = existingRun(ctx, options);
  if (existing) return existing;
  const { plan } = valid;
  const runId = insertRunRow(ctx, plan.goal, "running", JSON.stringify(plan), plan.tasks.length, options);
  insertTasks(ctx, runId, valid);
  appendEvent(ctx, { type: "run.created", actor: options.actor ?? "user", runId, data: { tasks: plan.tasks.length, waves: valid.waves.length, source: options.source ?? null } });
  return selectRun(ctx, runId);
}

/**
 * A run that starts with its planning task (key "@plan", workflow `architect`).
 * The plan's tasks are inserted when that task completes (see applyPlan).
 */
export function insertPlanningRun(ctx: TxContext, goal: string, planningInput: unknown, options: CreateRunOptions): CreatedRun {
  // Inside the write transaction (BEGIN IMMEDIATE): no other writer can insert the key between this look and the insert.
  const existing = existingRun(ctx, options);
  if (existing) return { run: existing, created: false };
  const runId = insertRunRow(ctx, goal, "planning", null, 1, options);
  sql(
    ctx.db,
    `INSERT INTO tasks (run_id, key, title, workflow, input, state, pending_deps, available_at, created_at, updated_at)
     VALUES (?, ?, 'Plan the work', 'architect', ?, 'ready', 0, ?, ?, ?)`,
  ).run(runId, PLANNING_TASK_KEY, JSON.stringify(planningInput ?? {}), ctx.now, ctx.now, ctx.now);
  appendEvent(ctx, { type: "run.created", actor: options.actor ?? "user", runId, data: { planning: true, source: options.source ?? null } });
  return { run: selectRun(ctx, runId), created: true };
}

/**
 * The planning task completed with a workplan: its tasks join the run in the
 * same transaction, and the run starts running.
 */
export function applyPlan(ctx: TxContext, runId: string, valid: ValidWorkplan, actor: string): void {
  insertTasks(ctx, runId, valid);
  const n = valid.plan.tasks.length;
  sql(ctx.db, "UPDATE run_plans SET workplan = ?, goal = ? WHERE run_id = ?").run(JSON.stringify(valid.plan), valid.plan.goal, runId);
  sql(
    ctx.db,
    `UPDATE runs SET state = CASE WHEN state IN (${inList(PLANNING_RUN_STATES)}) THEN 'running' ELSE state END,
       tasks_total = tasks_total + ?, tasks_open = tasks_open + ?, updated_at = ? WHERE id = ?`,
  ).run(n, n, ctx.now, runId);
  appendEvent(ctx, { type: "run.planned", actor, runId, data: { tasks: n, waves: valid.waves } });
}

/**
 * Cancels a run and its non-terminal tasks. A running task's attempt is marked
 * cancelled and its fence is cleared, so the drone's next guarded write fails
 * with LeaseLostError. Its pending gates close (cancelled, by the same actor):
 * nobody can decide them afterwards. Cancelling a cancelled run is harmless.
 */
export function cancelRunTx(ctx: TxContext, runId: string, actor: string, reason: string | undefined): RunRecord {
  const run = selectRun(ctx, runId);
  if (run.state === "cancelled") return run;
  if (TERMINAL_RUN_STATES.has(run.state)) {
    throw new InvalidTransitionError("run", runId, run.state, "cancelled", "it has already finished");
  }
  sql(ctx.db, `UPDATE attempts SET state = 'cancelled', ended_at = ? WHERE id IN (SELECT attempt_id FROM tasks WHERE run_id = ? AND state = 'running')`).run(
    ctx.now,
    runId,
  );
  const cancelled = sql(
    ctx.db,
    `UPDATE tasks SET state = 'cancelled', attempt_id = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
     WHERE run_id = ? AND state IN (${inList(OPEN_TASK_STATES)})`,
  ).run(ctx.now, ctx.now, runId).changes;
  sql(ctx.db, `UPDATE runs SET state = 'cancelled', tasks_open = 0, finished_at = ?, updated_at = ? WHERE id = ?`).run(ctx.now, ctx.now, runId);
  const gates = sql<{ id: string; task_id: number | null; question: string }, [string, number, string | null, string]>(
    ctx.db,
    `UPDATE gates SET state = 'cancelled', decided_by = ?1, decided_at = ?2, reason = ?3 WHERE run_id = ?4 AND state = 'pending' RETURNING id, task_id, question`,
  ).all(actor, ctx.now, reason ?? null, runId);
  for (const gate of gates) appendEvent(ctx, { type: "gate.cancelled", actor, runId, taskId: gate.task_id, data: { gate: gate.id, question: gate.question } });
  appendEvent(ctx, { type: "run.cancelled", actor, runId, data: { cancelledTasks: cancelled, reason: reason ?? null } });
  return selectRun(ctx, runId);
}

/**
 * Reopens a failed or cancelled run: every task that did not succeed goes
 * back to ready (or blocked behind its reopened dependencies), its failures
 * forgotten and its failed steps removed, so it continues after its last
 * successful step. Succeeded tasks and their journals stay as they are.
 * An unfinished run is left alone (its drones carry on); a succeeded one cannot be reopened.
 */
export function reopenRunTx(ctx: TxContext, runId: string, actor: string): { run: RunRecord; reopened: number } {
  const run = selectRun(ctx, runId);
  if (!TERMINAL_RUN_STATES.has(run.state)) return { run, reopened: 0 };
  if (run.state === "succeeded") throw new InvalidTransitionError("run", runId, run.state, "running", "it succeeded; start a new run to do the work again");
  sql(ctx.db, `DELETE FROM steps WHERE status = 'failed' AND task_id IN (SELECT id FROM tasks WHERE run_id = ? AND state IN (${REOPENABLE}))`).run(runId);
  // A task a person rejected asks again: the approval that said no is forgotten (the gate and its event stay).
  sql(
    ctx.db,
    `DELETE FROM steps WHERE kind = 'approval' AND status = 'completed' AND json_extract(output, '$.decision.approved') = 0
       AND task_id IN (SELECT id FROM tasks WHERE run_id = ? AND state = 'failed' AND fail_reason = 'rejected')`,
  ).run(runId);
  const reopened = sql(
    ctx.db,
    `UPDATE tasks SET state = 'blocked', failures = 0, crashes = 0, fail_reason = NULL, finished_at = NULL, attempt_id = NULL,
       lease_expires_at = NULL, available_at = ?1, updated_at = ?1,
       pending_deps = (SELECT count(*) FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = tasks.id AND d.state <> 'succeeded')
     WHERE run_id = ?2 AND state IN (${REOPENABLE})`,
  ).run(ctx.now, runId).changes;
  sql(ctx.db, `UPDATE tasks SET state = 'ready' WHERE run_id = ? AND state = 'blocked' AND pending_deps = 0`).run(runId);
  const planning = sql<{ n: number }, [string, string]>(ctx.db, "SELECT count(*) AS n FROM tasks WHERE run_id = ? AND key = ? AND state <> 'succeeded'").get(runId, PLANNING_TASK_KEY)!.n > 0;
  sql(ctx.db, `UPDATE runs SET state = ?, tasks_open = ?, tasks_failed = 0, finished_at = NULL, updated_at = ? WHERE id = ?`).run(planning ? "planning" : "running", reopened, ctx.now, runId);
  appendEvent(ctx, { type: "run.resumed", actor, runId, data: { reopened, from: run.state } });
  return { run: selectRun(ctx, runId), reopened };
}
