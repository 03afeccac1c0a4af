/** Runs: creating one (from a workplan, or to be planned), adding its plan, cancelling and reopening it. */
import type { SQL } from "bun";
import { InvalidTransitionError, NotFoundError } from "../../core/errors.ts";
import { newId } from "../../core/ids.ts";
import { refuseOtherRequest, requestHashOf } from "../../core/idempotency.ts";
import { OPEN_TASK_STATES, PLANNING_TASK_KEY, REOPENABLE_TASK_STATES, TERMINAL_RUN_STATES, UNFINISHED_RUN_STATES, type RunState } from "../../core/states.ts";
import type { ValidWorkplan } from "../../core/workplan.ts";
import type { CreatedRun, CreateRunOptions, RunRecord } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { RUN_SELECT, toRun, type RunRow } from "./rows.ts";
import { intArray, textArray } from "./arrays.ts";
import { inList, jsonb, num, q, toJson } from "./sqlText.ts";

/** Runs still before their plan's tasks run: applying the plan starts them. */
const PLANNING_RUN_STATES = UNFINISHED_RUN_STATES.filter((state) => state !== "running");
const REOPENABLE = inList(REOPENABLE_TASK_STATES);
const OPEN = inList(OPEN_TASK_STATES);

export async function selectRun(sql: SQL, runId: string): Promise<RunRecord> {
  const [row] = await q<RunRow>(sql, `${RUN_SELECT} WHERE r.id = $1`, [runId]);
  if (!row) throw new NotFoundError("run", runId, "list runs with `farcaster status`");
  return toRun(row);
}

/** The run's state, its row locked until the transaction ends (a transition re-checks its from-state under the lock). */
async function lockRun(ctx: TxContext, runId: string): Promise<RunState> {
  const [row] = await q<{ state: RunState }>(ctx.sql, "SELECT state FROM runs WHERE id = $1 FOR UPDATE", [runId]);
  if (!row) throw new NotFoundError("run", runId, "list runs with `farcaster status`");
  return row.state;
}

/**
 * Inserts the runs row, unless the idempotency key names a run already:
 * then that run. ON CONFLICT waits for a concurrent creator with the same
 * key to commit, so two stores creating one key at once create one run.
 */
async function insertRunRow(ctx: TxContext, goal: string, state: "planning" | "running", workplan: string | null, tasks: number, options: CreateRunOptions): Promise<string | null> {
  const runId = newId("r", ctx.now);
  const inserted = await q(
    ctx.sql,
    `INSERT INTO runs (id, state, source, source_hash, cwd, idempotency_key, request_hash, tasks_total, tasks_open, tasks_failed, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $9, $7, $7, 0, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    [runId, state, options.source ?? null, options.sourceHash ?? null, options.cwd ?? null, options.idempotencyKey ?? null, tasks, ctx.now, requestHashOf(options)],
  );
  if (inserted.length === 0) return null;
  await q(ctx.sql, "INSERT INTO run_plans (run_id, goal, workplan) VALUES ($1, $2, $3)", [runId, goal, workplan]);
  return runId;
}

/** The run the idempotency key names (refused when another request made it). */
async function existingRun(ctx: TxContext, options: CreateRunOptions): Promise<RunRecord> {
  const [row] = await q<RunRow>(ctx.sql, `${RUN_SELECT} WHERE r.idempotency_key = $1`, [options.idempotencyKey]);
  if (!row) throw new Error(`the run with idempotency key ${options.idempotencyKey} vanished`);
  const run = toRun(row);
  refuseOtherRequest(run, options.requestHash);
  return run;
}

/**
 * Inserts a plan's tasks (in plan order, so their ids follow it) and edges,
 * one statement each. Tasks without dependencies are ready at once; the
 * others are blocked with their count of pending dependencies.
 */
async function insertTasks(ctx: TxContext, runId: string, valid: ValidWorkplan): Promise<void> {
  const tasks = valid.plan.tasks;
  const rows = await q<{ id: string; key: string }>(
    ctx.sql,
    `INSERT INTO tasks (run_id, key, title, description, workflow, input, scope, priority, max_attempts, timeout_ms,
                        state, pending_deps, available_at, created_at, updated_at)
     SELECT $1, u.key, u.title, u.description, u.workflow, u.input, u.scope, u.priority, u.max_attempts, u.timeout_ms,
            u.state, u.pending_deps, $2, $2, $2
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::int[], $10::int[], $11::bigint[], $12::text[], $13::int[])
       WITH ORDINALITY AS u(key, title, description, workflow, input, scope, priority, max_attempts, timeout_ms, state, pending_deps, n)
     ORDER BY u.n
     RETURNING id, key`,
    [
      runId,
      ctx.now,
      textArray(tasks.map((t) => t.id)),
      textArray(tasks.map((t) => t.title)),
      textArray(tasks.map((t) => t.description ?? null)),
      textArray(tasks.map((t) => t.workflow)),
      textArray(tasks.map((t) => JSON.stringify(t.input ?? {}))),
      textArray(tasks.map((t) => toJson(t.scope))),
      intArray(tasks.map((t) => t.priority ?? 0)),
      intArray(tasks.map((t) => (t.retries ?? 0) + 1)),
      intArray(tasks.map((t) => t.timeout ?? null)),
      textArray(tasks.map((t) => (t.after.length === 0 ? "ready" : "blocked"))),
      intArray(tasks.map((t) => t.after.length)),
    ],
  );
  const ids = new Map(rows.map((row) => [row.key, row.id]));
  const from: string[] = [];
  const to: string[] = [];
  for (const task of tasks) {
    for (const dep of task.after) {
      from.push(ids.get(task.id)!);
      to.push(ids.get(dep)!);
    }
  }
  if (from.length > 0) await q(ctx.sql, "INSERT INTO task_deps (task_id, depends_on) SELECT * FROM unnest($1::bigint[], $2::bigint[])", [intArray(from), intArray(to)]);
  if (tasks.some((t) => t.after.length === 0)) ctx.ready = true;
}

/** A run from a workplan, running at once. The caller holds a transaction: a failure leaves nothing. */
export async function insertRun(ctx: TxContext, valid: ValidWorkplan, options: CreateRunOptions): Promise<RunRecord> {
  const { plan } = valid;
  const workplan = JSON.stringify(plan);
  const runId = await insertRunRow(ctx, plan.goal, "running", workplan, plan.tasks.length, options);
  if (!runId) return existingRun(ctx, options);
  await insertTasks(ctx, runId, valid);
  appendEvent(ctx, { type: "run.created", actor: options.actor ?? "user", runId, data: { tasks: plan.tasks.length, waves: valid.waves.length, source: options.source ?? null } });
  return selectRun(ctx.sql, runId);
}

/** A run that starts with its planning task (key "@plan", workflow `architect`); the plan's tasks come when it completes. */
export async function insertPlanningRun(ctx: TxContext, goal: string, planningInput: unknown, options: CreateRunOptions): Promise<CreatedRun> {
  const input = JSON.stringify(planningInput ?? {});
  const runId = await insertRunRow(ctx, goal, "planning", null, 1, options);
  if (!runId) return { run: await existingRun(ctx, options), created: false };
  await q(
    ctx.sql,
    `INSERT INTO tasks (run_id, key, title, workflow, input, state, pending_deps, available_at, created_at, updated_at)
     VALUES ($1, $2, 'Plan the work', 'architect', $3, 'ready', 0, $4, $4, $4)`,
    [runId, PLANNING_TASK_KEY, input, ctx.now],
  );
  ctx.ready = true;
  appendEvent(ctx, { type: "run.created", actor: options.actor ?? "user", runId, data: { planning: true, source: options.source ?? null } });
  return { run: await selectRun(ctx.sql, runId), created: true };
}

/** The planning task completed with a workplan: its tasks join the run in the same transaction, and the run starts running. */
export async function applyPlan(ctx: TxContext, runId: string, valid: ValidWorkplan, actor: string): Promise<void> {
  await insertTasks(ctx, runId, valid);
  const n = valid.plan.tasks.length;
  await q(ctx.sql, "UPDATE run_plans SET workplan = $1, goal = $2 WHERE run_id = $3", [JSON.stringify(valid.plan), valid.plan.goal, runId]);
  await q(
    ctx.sql,
    `UPDATE runs SET state = CASE WHEN state IN (${inList(PLANNING_RUN_STATES)}) THEN 'running' ELSE state END,
       tasks_total = tasks_total + $1, tasks_open = tasks_open + $1, updated_at = $2 WHERE id = $3`,
    [n, ctx.now, runId],
  );
  appendEvent(ctx, { type: "run.planned", actor, runId, data: { tasks: n, waves: valid.waves } });
}

/**
 * Cancels a run and its non-terminal tasks. A running task's attempt is
 * marked cancelled and its fence cleared, so its drone's next guarded write
 * fails with LeaseLostError. Lock order: the run's open tasks (by id), then
 * the run, as a batch of completions takes them; the run's state is checked
 * under its lock, so a completion that ended the run meanwhile wins whole.
 */
export async function cancelRunTx(ctx: TxContext, runId: string, actor: string, reason: string | undefined): Promise<RunRecord> {
  await selectRun(ctx.sql, runId); // NotFoundError before any lock
  await q(ctx.sql, `SELECT id FROM tasks WHERE run_id = $1 AND state IN (${OPEN}) ORDER BY id FOR UPDATE`, [runId]);
  const state = await lockRun(ctx, runId);
  if (state === "cancelled") return selectRun(ctx.sql, runId);
  if (TERMINAL_RUN_STATES.has(state)) throw new InvalidTransitionError("run", runId, state, "cancelled", "it has already finished");
  await q(ctx.sql, `UPDATE attempts SET state = 'cancelled', ended_at = $1 WHERE id IN (SELECT attempt_id FROM tasks WHERE run_id = $2 AND state = 'running')`, [ctx.now, runId]);
  const cancelled = await q(
    ctx.sql,
    `UPDATE tasks SET state = 'cancelled', attempt_id = NULL, lease_expires_at = NULL, finished_at = $1, updated_at = $1
     WHERE run_id = $2 AND state IN (${OPEN}) RETURNING id`,
    [ctx.now, runId],
  );
  await q(ctx.sql, "UPDATE runs SET state = 'cancelled', tasks_open = 0, finished_at = $1, updated_at = $1 WHERE id = $2", [ctx.now, runId]);
  const gates = await q<{ id: string; task_id: string | null; question: string }>(
    ctx.sql,
    "UPDATE gates SET state = 'cancelled', decided_by = $1, decided_at = $2, reason = $3 WHERE run_id = $4 AND state = 'pending' RETURNING id, task_id, question",
    [actor, ctx.now, reason ?? null, runId],
  );
  for (const gate of gates) appendEvent(ctx, { type: "gate.cancelled", actor, runId, taskId: num(gate.task_id), data: { gate: gate.id, question: gate.question } });
  appendEvent(ctx, { type: "run.cancelled", actor, runId, data: { cancelledTasks: cancelled.length, reason: reason ?? null } });
  return selectRun(ctx.sql, runId);
}

/**
 * Reopens a failed or cancelled run: every task that did not succeed goes
 * back to ready (or blocked behind its reopened dependencies), its failures
 * forgotten and its failed steps removed, so it continues after its last
 * successful step. An unfinished run is left alone; a succeeded one cannot be reopened.
 */
export async function reopenRunTx(ctx: TxContext, runId: string, actor: string): Promise<{ run: RunRecord; reopened: number }> {
  const run = await selectRun(ctx.sql, runId);
  if (!TERMINAL_RUN_STATES.has(run.state)) return { run, reopened: 0 };
  const state = await lockRun(ctx, runId);
  if (!TERMINAL_RUN_STATES.has(state)) return { run: await selectRun(ctx.sql, runId), reopened: 0 };
  if (state === "succeeded") throw new InvalidTransitionError("run", runId, state, "running", "it succeeded; start a new run to do the work again");
  await q(ctx.sql, `DELETE FROM steps WHERE status = 'failed' AND task_id IN (SELECT id FROM tasks WHERE run_id = $1 AND state IN (${REOPENABLE}))`, [runId]);
  // A task a person rejected asks again: the approval that said no is forgotten (the gate and its event stay).
  await q(
    ctx.sql,
    `DELETE FROM steps WHERE kind = 'approval' AND status = 'completed' AND (${jsonb("output")} #>> '{decision,approved}') = 'false'
       AND task_id IN (SELECT id FROM tasks WHERE run_id = $1 AND state = 'failed' AND fail_reason = 'rejected')`,
    [runId],
  );
  const reopened = (
    await q(
      ctx.sql,
      `UPDATE tasks SET state = 'blocked', failures = 0, crashes = 0, fail_reason = NULL, finished_at = NULL, attempt_id = NULL,
         lease_expires_at = NULL, available_at = $1, updated_at = $1,
         pending_deps = (SELECT count(*) FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = tasks.id AND d.state <> 'succeeded')
       WHERE run_id = $2 AND state IN (${REOPENABLE}) RETURNING id`,
      [ctx.now, runId],
    )
  ).length;
  const ready = await q(ctx.sql, "UPDATE tasks SET state = 'ready' WHERE run_id = $1 AND state = 'blocked' AND pending_deps = 0 RETURNING id", [runId]);
  if (ready.length > 0) ctx.ready = true;
  const [planning] = await q<{ n: string }>(ctx.sql, "SELECT count(*) AS n FROM tasks WHERE run_id = $1 AND key = $2 AND state <> 'succeeded'", [runId, PLANNING_TASK_KEY]);
  await q(ctx.sql, "UPDATE runs SET state = $1, tasks_open = $2, tasks_failed = 0, finished_at = NULL, updated_at = $3 WHERE id = $4", [
    Number(planning!.n) > 0 ? "planning" : "running",
    reopened,
    ctx.now,
    runId,
  ]);
  appendEvent(ctx, { type: "run.resumed", actor, runId, data: { reopened, from: state } });
  return { run: await selectRun(ctx.sql, runId), reopened };
}
