/**
 * Leases: claiming ready tasks, keeping them (heartbeats, step commits) and
 * giving them back (suspend, release). Each function runs inside the caller's
 * write transaction; each write for a running task is fenced by
 * (task id, attempt id, state = running).
 */
import type { SQLQueryBindings } from "bun:sqlite";
import { LeaseLostError } from "../../core/errors.ts";
import type { ClaimedTask, ClaimOptions, LeaseRenewal, StepWrite, SuspendOptions } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { openGate } from "./gates.ts";
import { waitForSignal } from "./signals.ts";
import { failForGood, type FencedTask } from "./outcomes.ts";
import { fromJson, toJson } from "./rows.ts";
import { sql } from "./statements.ts";
import { STEP_INSERT, STEP_UPSERT } from "../stepSql.ts";
import { toClaimedTask, type ClaimedTaskRow } from "../claimedTask.ts";

/** `available_at` of a task that waits to be woken (a gate, an event) rather than for a time. */
export const WAIT_FOREVER = 8_640_000_000_000_000;

/**
 * Expired leases reclaimed per upkeep pass: keeps every claim's work bounded
 * (as Absurd's claim_task does). Written into the SQL: a bound `LIMIT ?` makes
 * this SQLite re-prepare the statement on every run (about 12 µs).
 */
export const RECLAIM_BATCH = 32;

export interface ClaimPolicy {
  /** Crashes (expired leases) a task may have before it fails with reason recovery_limit. */
  recoveryLimit: number;
}

/**
 * An expired lease means its drone died or stalled. Its attempt is recorded as
 * crashed and the task goes back to ready, or fails with `recovery_limit` when
 * it has crashed too often (a task that kills its drone must not crash-loop the swarm).
 */
export function reclaimExpired(ctx: TxContext, actor: string, policy: ClaimPolicy): number {
  const expired = sql<FencedTask & { attempt_id: number; crashes: number; failures: number }, [number]>(
    ctx.db,
    `SELECT id, run_id, key, lease_owner, attempt_id, crashes, failures FROM tasks
     WHERE state = 'running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ${RECLAIM_BATCH}`,
  ).all(ctx.now);
  for (const task of expired) {
    const error = JSON.stringify({ message: `lease expired: drone ${task.lease_owner} stopped heartbeating`, code: "lease_expired" });
    sql(ctx.db, "UPDATE attempts SET state = 'crashed', ended_at = ?, error = ? WHERE id = ?").run(ctx.now, error, task.attempt_id);
    const crashes = task.crashes + 1;
    appendEvent(ctx, { type: "task.lease_expired", actor, runId: task.run_id, taskId: task.id, attemptId: task.attempt_id, data: { owner: task.lease_owner, crashes } });
    if (crashes > policy.recoveryLimit) {
      sql(ctx.db, "UPDATE tasks SET crashes = ? WHERE id = ?").run(crashes, task.id);
      const message = `task "${task.key}" crashed its drone ${crashes} times (recovery limit ${policy.recoveryLimit}); not retrying`;
      failForGood(ctx, task, JSON.stringify({ message, code: "recovery_limit" }), "recovery_limit", task.failures, actor, task.attempt_id);
    } else {
      sql(
        ctx.db,
        `UPDATE tasks SET state = 'ready', crashes = ?, error = ?, attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
         WHERE id = ?`,
      ).run(crashes, error, ctx.now, ctx.now, task.id);
    }
  }
  return expired.length;
}

/** Sleeping tasks whose time has come become ready. */
export function wakeSleepers(ctx: TxContext): number {
  return sql(ctx.db, `UPDATE tasks SET state = 'ready', updated_at = ?1 WHERE state = 'waiting' AND available_at <= ?1`).run(ctx.now).changes;
}

/**
 * Of the workflows a claim asks for, those with a ready task (null: none has
 * one; [] stays "any workflow"). One statement probes them all (~4 µs), and
 * the claim's UNION has an arm only for those: an arm costs 7-10 µs even
 * when it finds nothing, and a bound flag that switched it off still left
 * ~8 µs (a claim of 20 tasks with four arms, one of them ready: 75 µs
 * against 52 with that arm alone). The arms differ only in their bound
 * name, so a claim's SQL text depends on its limit, its run filter and how
 * many workflows are ready, not which; padding that count with arms of a NULL
 * name, to have fewer texts, cost ~12 µs an arm. (Past 256 texts,
 * statements.ts leaves new ones to bun's own cache.) A drone claims for each
 * of its groups at every batch (shell, agents and planning have groups of
 * their own), and in a DAG most of those claims find nothing: in 20
 * parallel chains, 5,250 of 6,000 claims, at ~75 µs each.
 */
function readyWorkflows(ctx: TxContext, workflows: readonly string[], runId: string | undefined): string[] | null {
  if (workflows.length === 0) return [];
  const byRun = runId === undefined ? "" : "AND run_id = ?3";
  const present = sql<{ value: string }, SQLQueryBindings[]>(
    ctx.db,
    `SELECT value FROM json_each(?1) WHERE EXISTS (SELECT 1 FROM tasks INDEXED BY tasks_ready_by_workflow
       WHERE state = 'ready' AND workflow = value AND available_at <= ?2 ${byRun})`,
  )
    .all(...([JSON.stringify(workflows), ctx.now, ...(runId === undefined ? [] : [runId])] as SQLQueryBindings[]))
    .map((row) => row.value);
  return present.length === 0 ? null : present;
}

const claimTexts = new Map<string, string>();

/**
 * The INSERT that picks a claim's tasks and opens their attempts: ?1 worker,
 * ?2 now, then ?3 the run if `byRun`, then the ready workflows' names, one
 * arm each (`arms`; null: any workflow). Any workflow: the ready set in
 * priority order. Some workflows: the best `limit` of each
 * (tasks_ready_by_workflow), merged; walking the whole ready set for them
 * could take long. Built once per shape: a text built again for every claim
 * is hashed again by the statement cache.
 */
function claimText(limit: number, arms: number | null, byRun: boolean): string {
  const key = `${limit}:${arms}:${byRun}`;
  let text = claimTexts.get(key);
  if (text === undefined) {
    const run = byRun ? "AND run_id = ?3" : "";
    const first = byRun ? 4 : 3;
    const candidates =
      arms === null
        ? `SELECT id, attempts, priority, available_at FROM tasks INDEXED BY tasks_claimable WHERE state = 'ready' AND available_at <= ?2 ${run}`
        : Array.from({ length: arms }, (_, i) => `SELECT * FROM (SELECT id, attempts, priority, available_at FROM tasks INDEXED BY tasks_ready_by_workflow
             WHERE state = 'ready' AND workflow = ?${first + i} AND available_at <= ?2 ${run}
             ORDER BY priority DESC, available_at, id LIMIT ${limit})`).join(" UNION ALL ");
    text = `INSERT INTO attempts (task_id, number, worker, state, started_at, heartbeat_at)
     SELECT id, attempts + 1, ?1, 'running', ?2, ?2 FROM (${candidates})
     ORDER BY priority DESC, available_at, id LIMIT ${limit}
     RETURNING id`;
    claimTexts.set(key, text);
  }
  return text;
}

type ClaimedRow = ClaimedTaskRow & { id: number; attempt_id: number; timeout_ms: number | null };

/**
 * Leases up to `limit` ready tasks, best first, in four statements however
 * many it takes: one INSERT … SELECT picks the tasks and opens their
 * attempts (consecutive ids, in the claim's order); one UPDATE … FROM marks
 * them running; one INSERT … SELECT appends their events; one read brings
 * their dependencies' outputs, so an attempt needs no read of its own. The
 * limit is written into the SQL (see RECLAIM_BATCH), so each limit a worker
 * uses is one cached statement.
 */
export function claimReady(ctx: TxContext, worker: string, limit: number, leaseMs: number, options: ClaimOptions): ClaimedTask[] {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`a claim's limit must be a whole number ≥ 0 (got ${limit})`);
  if (limit === 0) return [];
  const params: SQLQueryBindings[] = [worker, ctx.now];
  if (options.runId !== undefined) params.push(options.runId);
  const named = options.workflows ?? [];
  const workflows = named.length < 2 ? named : [...new Set(named)]; // a name twice would be two arms, and a task claimed twice
  const present = readyWorkflows(ctx, workflows, options.runId);
  if (present === null) return [];
  params.push(...present);
  const opened = sql<{ id: number }, SQLQueryBindings[]>(ctx.db, claimText(limit, workflows.length === 0 ? null : present.length, options.runId !== undefined)).all(...params);
  if (opened.length === 0) return [];
  // Rowids of one INSERT are handed out consecutively, in the SELECT's order: the claim's order.
  let first = opened[0]!.id;
  let last = first;
  for (const { id } of opened) {
    if (id < first) first = id;
    if (id > last) last = id;
  }
  const expiresAt = ctx.now + leaseMs;
  const rows = sql<ClaimedRow, [number, string, number, number, number]>(
    ctx.db,
    `UPDATE tasks SET state = 'running', attempt_id = a.id, lease_owner = ?2, lease_expires_at = ?3, attempts = tasks.attempts + 1,
       started_at = coalesce(tasks.started_at, ?4), updated_at = ?4, waiting_for = NULL
     FROM attempts a WHERE a.id BETWEEN ?1 AND ?5 AND tasks.id = a.task_id
     RETURNING id, attempt_id, attempts, run_id, key, workflow, input, max_attempts, timeout_ms, feedback, scope, title, description`,
  ).all(first, worker, expiresAt, ctx.now, last);
  sql(
    ctx.db,
    `INSERT INTO events (at, type, actor, run_id, task_id, attempt_id, data)
     SELECT ?1, 'task.started', ?2, t.run_id, t.id, a.id, json_object('attempt', a.number)
     FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE a.id BETWEEN ?3 AND ?4 ORDER BY a.id`,
  ).run(ctx.now, worker, first, last);
  const deps = new Map<number, Record<string, unknown>>();
  for (const dep of sql<{ task_id: number; key: string; output: string | null }, [number, number]>(
    ctx.db,
    `SELECT e.task_id, d.key, d.output FROM attempts a JOIN task_deps e ON e.task_id = a.task_id JOIN tasks d ON d.id = e.depends_on
     WHERE a.id BETWEEN ?1 AND ?2 ORDER BY e.task_id, d.key`,
  ).all(first, last)) {
    let record = deps.get(dep.task_id);
    if (!record) deps.set(dep.task_id, (record = {}));
    record[dep.key] = fromJson(dep.output);
  }
  const cwds = new Map<string, string | null>();
  const cwdOf = (runId: string) => {
    if (!cwds.has(runId)) cwds.set(runId, sql<{ cwd: string | null }, [string]>(ctx.db, "SELECT cwd FROM runs WHERE id = ?").get(runId)?.cwd ?? null);
    return cwds.get(runId)!;
  };
  rows.sort((a, b) => a.attempt_id - b.attempt_id);
  return rows.map((task) => toClaimedTask(task, {
    taskId: task.id, attemptId: task.attempt_id, timeoutMs: task.timeout_ms, leaseExpiresAt: expiresAt, cwd: cwdOf(task.run_id), deps: deps.get(task.id) ?? {},
  }));
}

/**
 * The fence, as a read inside the write transaction: throws LeaseLostError
 * unless the attempt still holds the task. Nothing else can change the task
 * between this read and the caller's writes: they share the transaction.
 */
export function checkLease(ctx: TxContext, taskId: number, attemptId: number, operation: string): void {
  const row = sql<{ one: number }, [number, number]>(ctx.db, "SELECT 1 AS one FROM tasks WHERE id = ? AND attempt_id = ? AND state = 'running'").get(taskId, attemptId);
  if (!row) throw new LeaseLostError(taskId, attemptId, operation);
}

export function extendLeaseTx(ctx: TxContext, taskId: number, attemptId: number, leaseMs: number): number {
  const row = sql<{ lease_expires_at: number }, [number, number, number, number]>(
    ctx.db,
    "UPDATE tasks SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING lease_expires_at",
  ).get(ctx.now + leaseMs, ctx.now, taskId, attemptId);
  if (!row) throw new LeaseLostError(taskId, attemptId, "the heartbeat");
  sql(ctx.db, "UPDATE attempts SET heartbeat_at = ? WHERE id = ?").run(ctx.now, attemptId);
  return row.lease_expires_at;
}

/**
 * A drone's heartbeat: every lease it holds renewed by one statement (each by
 * its own length), fenced like every write. Returns the attempts whose fence
 * failed: their leases are lost.
 */
export function renewLeasesTx(ctx: TxContext, worker: string, leases: readonly LeaseRenewal[]): number[] {
  if (leases.length === 0) return [];
  const renewed = sql<{ attempt_id: number }, [number, string, string]>(
    ctx.db,
    `UPDATE tasks SET lease_expires_at = ?1 + j.value ->> '$.leaseMs', updated_at = ?1
     FROM json_each(?3) AS j
     WHERE tasks.id = j.value ->> '$.taskId' AND tasks.attempt_id = j.value ->> '$.attemptId' AND tasks.state = 'running' AND tasks.lease_owner = ?2
     RETURNING tasks.attempt_id`,
  )
    .all(ctx.now, worker, JSON.stringify(leases))
    .map((row) => row.attempt_id);
  sql(ctx.db, "UPDATE attempts SET heartbeat_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))").run(ctx.now, JSON.stringify(renewed));
  const held = new Set(renewed);
  return leases.filter((lease) => !held.has(lease.attemptId)).map((lease) => lease.attemptId);
}

/**
 * When a claim could next find work: now or earlier when a task is ready
 * (of the given run and workflows), else the earliest of an expired lease to
 * reclaim (a moment after it expires), a retry's backoff ending, a sleeper
 * waking, a gate timing out. Null when nothing is scheduled. One read, so an
 * idle drone asks it instead of taking the write lock for an empty claim.
 */
export function nextDueTx(ctx: TxContext, options: ClaimOptions): number | null {
  const params: SQLQueryBindings[] = [];
  const byRun = options.runId === undefined ? "" : `AND run_id = ?${params.push(options.runId)}`;
  // The groups with room decide which ready tasks count; none with room: no ready task does.
  const open = options.groups ? options.groups.filter((group) => group.limit > 0) : [{ workflows: options.workflows ?? [] }];
  const workflows = open.some((group) => group.workflows.length === 0) ? [] : open.flatMap((group) => group.workflows);
  const byWorkflow = workflows.length === 0 ? "" : `AND workflow IN (${workflows.map((w) => `?${params.push(w)}`).join(",")})`;
  const ready = open.length === 0 ? "" : `SELECT min(available_at) AS due FROM tasks WHERE state = 'ready' ${byRun} ${byWorkflow} UNION ALL`;
  const row = sql<{ due: number | null }, SQLQueryBindings[]>(
    ctx.db,
    `SELECT min(due) AS due FROM (
       ${ready}
       SELECT min(lease_expires_at) + 1 AS due FROM tasks WHERE state = 'running' ${byRun}
       UNION ALL SELECT min(available_at) FROM tasks WHERE state = 'waiting' ${byRun}
       UNION ALL SELECT min(timeout_at) FROM gates WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL
     )`,
  ).get(...params);
  return row?.due ?? null;
}

export function recordStepTx(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite): void {
  checkLease(ctx, taskId, attemptId, `recording step "${step.key}"`);
  writeStep(ctx, taskId, attemptId, step);
}

function writeStep(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite): void {
  // A step recorded as waiting (a sleep, a gate) is completed later by a later attempt;
  // a completed or failed step is a fact and is never overwritten. The same attempt
  // recording the same fact again (a write sent again after its host died) is accepted.
  const changed = sql(
    ctx.db,
    `${STEP_INSERT}
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ${STEP_UPSERT}`,
  ).run(taskId, step.key, step.seq, step.kind, attemptId, step.status, toJson(step.input), toJson(step.output), toJson(step.error),
      step.startedAt, step.endedAt, step.usage?.inputTokens ?? null, step.usage?.outputTokens ?? null).changes;
  if (changed === 0 && !sameFact(ctx, taskId, attemptId, step)) {
    throw new Error(`step "${step.key}" of task ${taskId} is already recorded; replay must return it instead of running it again`);
  }
}

function sameFact(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite): boolean {
  const row = sql<{ attempt_id: number; status: string; output: string | null }, [number, string]>(ctx.db, "SELECT attempt_id, status, output FROM steps WHERE task_id = ? AND key = ?").get(taskId, step.key);
  return row !== null && row.attempt_id === attemptId && row.status === step.status && row.output === toJson(step.output);
}

export function suspendTaskTx(ctx: TxContext, taskId: number, attemptId: number, options: SuspendOptions): void {
  const task = sql<FencedTask, [number, number, number, number]>(
    ctx.db,
    `UPDATE tasks SET state = 'waiting', attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
     WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING id, run_id, key, lease_owner`,
  ).get(options.until ?? WAIT_FOREVER, ctx.now, taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "suspending the task");
  if (options.waitingFor !== undefined) waitForSignal(ctx, taskId, options.waitingFor);
  if (options.step) writeStep(ctx, taskId, attemptId, options.step);
  if (options.gate) openGate(ctx, task, options.gate);
  sql(ctx.db, "UPDATE attempts SET state = 'suspended', ended_at = ? WHERE id = ?").run(ctx.now, attemptId);
  appendEvent(ctx, { type: "task.waiting", actor: task.lease_owner, runId: task.run_id, taskId, attemptId, data: { reason: options.reason, until: options.until ?? null } });
}

export function releaseTaskTx(ctx: TxContext, taskId: number, attemptId: number): void {
  const task = sql<FencedTask, [number, number, number, number]>(
    ctx.db,
    `UPDATE tasks SET state = 'ready', attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
     WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING id, run_id, key, lease_owner`,
  ).get(ctx.now, ctx.now, taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "releasing the task");
  sql(ctx.db, "UPDATE attempts SET state = 'released', ended_at = ? WHERE id = ?").run(ctx.now, attemptId);
  appendEvent(ctx, { type: "task.released", actor: task.lease_owner, runId: task.run_id, taskId, attemptId });
}

/** Drones other than `worker` holding a lease that has not expired (by the partial index of running tasks). */
export function countOtherLeaseHolders(ctx: TxContext, worker: string): number {
  const row = sql<{ n: number }, [number, string]>(
    ctx.db,
    "SELECT count(DISTINCT lease_owner) AS n FROM tasks WHERE state = 'running' AND lease_expires_at > ? AND lease_owner <> ?",
  ).get(ctx.now, worker);
  return row?.n ?? 0;
}
