/**
 * Leases: keeping them (heartbeats), giving them back (suspend, release),
 * and the upkeep that takes them from drones that died (reclaim), wakes
 * sleepers and answers when a claim could next find work. Every write for a
 * running task carries its fence, (task id, attempt id), in the statement
 * that writes (a task holds an attempt id exactly while it runs; batched
 * statements say no more, see batchTasks in sqlText.ts), and zero rows
 * means the lease was lost.
 */
import { LeaseLostError } from "../../core/errors.ts";
import type { ClaimOptions, LeaseRenewal, SuspendOptions } from "../types.ts";
import { leaseExpiredError } from "./claims.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { openGate } from "./gates.ts";
import { failForGood, type FencedTask } from "./outcomes.ts";
import { waitForSignal } from "./signals.ts";
import { intArray } from "./arrays.ts";
import { batchTasks, num, Params, q } from "./sqlText.ts";
import { writeStep } from "./steps.ts";

/** `available_at` of a task that waits to be woken (a gate, an event) rather than for a time. */
export const WAIT_FOREVER = 8_640_000_000_000_000;

/** Expired leases reclaimed per upkeep pass: keeps every pass bounded. */
export const RECLAIM_BATCH = 32;
/** Sleepers woken per upkeep pass. */
export const WAKE_BATCH = 256;

export interface ClaimPolicy {
  /** Crashes (expired leases) a task may have before it fails with reason recovery_limit. */
  recoveryLimit: number;
}

type FencedRow = { id: string; run_id: string; key: string; lease_owner: string };

export function fenced(row: FencedRow): FencedTask {
  return { id: num(row.id), run_id: row.run_id, key: row.key, lease_owner: row.lease_owner };
}

/**
 * An expired lease means its drone died or stalled. Its attempt is recorded
 * as crashed and the task goes back to ready, or fails with `recovery_limit`
 * when it has crashed too often. Rows another transaction holds are skipped:
 * their lease is being renewed or taken right now.
 */
export async function reclaimExpired(ctx: TxContext, actor: string, policy: ClaimPolicy): Promise<number> {
  const expired = await q<FencedRow & { attempt_id: string; crashes: number; failures: number }>(
    ctx.sql,
    `WITH expired AS (
       SELECT id, run_id, key, lease_owner, attempt_id, crashes, failures FROM tasks
       WHERE state = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT ${RECLAIM_BATCH} FOR UPDATE SKIP LOCKED
     ),
     crashed AS (
       UPDATE attempts a SET state = 'crashed', ended_at = $1,
         error = json_build_object('message', 'lease expired: drone ' || e.lease_owner || ' stopped heartbeating', 'code', 'lease_expired')::text
       FROM expired e WHERE a.id = e.attempt_id
     ),
     requeued AS (
       UPDATE tasks t SET state = 'ready', crashes = e.crashes + 1,
         error = json_build_object('message', 'lease expired: drone ' || e.lease_owner || ' stopped heartbeating', 'code', 'lease_expired')::text,
         attempt_id = NULL, lease_expires_at = NULL, available_at = $1, updated_at = $1
       FROM expired e WHERE t.id = e.id AND e.crashes + 1 <= $2
     )
     SELECT * FROM expired`,
    [ctx.now, policy.recoveryLimit],
  );
  for (const row of expired) {
    const task = fenced(row);
    const crashes = row.crashes + 1;
    const attemptId = num(row.attempt_id);
    appendEvent(ctx, { type: "task.lease_expired", actor, runId: task.run_id, taskId: task.id, attemptId, data: { owner: task.lease_owner, crashes } });
    if (crashes > policy.recoveryLimit) {
      await q(ctx.sql, "UPDATE tasks SET crashes = $1 WHERE id = $2", [crashes, task.id]);
      const message = `task "${task.key}" crashed its drone ${crashes} times (recovery limit ${policy.recoveryLimit}); not retrying`;
      await failForGood(ctx, task, JSON.stringify({ message, code: "recovery_limit" }), "recovery_limit", row.failures, actor, attemptId);
    } else {
      ctx.ready = true;
    }
  }
  return expired.length;
}

/** Sleeping tasks whose time has come become ready (a bounded batch per pass). */
export async function wakeSleepers(ctx: TxContext): Promise<number> {
  const woken = await q(
    ctx.sql,
    `WITH due AS (SELECT id FROM tasks WHERE state = 'waiting' AND available_at <= $1 ORDER BY available_at LIMIT ${WAKE_BATCH} FOR UPDATE SKIP LOCKED)
     UPDATE tasks t SET state = 'ready', updated_at = $1 FROM due WHERE t.id = due.id RETURNING t.id`,
    [ctx.now],
  );
  if (woken.length > 0) ctx.ready = true;
  return woken.length;
}

export async function extendLeaseTx(ctx: TxContext, taskId: number, attemptId: number, leaseMs: number): Promise<number> {
  const [row] = await q<{ lease_expires_at: string }>(
    ctx.sql,
    `WITH renewed AS (
       UPDATE tasks SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND attempt_id = $4 AND state = 'running' RETURNING lease_expires_at
     ), beat AS (UPDATE attempts SET heartbeat_at = $2 WHERE id = $4 AND EXISTS (SELECT 1 FROM renewed))
     SELECT lease_expires_at FROM renewed`,
    [ctx.now + leaseMs, ctx.now, taskId, attemptId],
  );
  if (!row) throw new LeaseLostError(taskId, attemptId, "the heartbeat");
  return num(row.lease_expires_at);
}

/**
 * A drone's heartbeat: every lease it holds renewed by one statement (each
 * by its own length), fenced like every write. Returns the attempts whose
 * fence failed: their leases are lost.
 */
export async function renewLeasesTx(ctx: TxContext, worker: string, leases: readonly LeaseRenewal[]): Promise<number[]> {
  if (leases.length === 0) return [];
  const renewed = await q<{ attempt_id: string }>(
    ctx.sql,
    `WITH l AS (SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS l(task_id, attempt_id, lease_ms)),
     renewed AS (
       UPDATE tasks t SET lease_expires_at = $1 + l.lease_ms, updated_at = $1
       FROM l WHERE ${batchTasks("t", "$3")} AND t.id = l.task_id AND t.attempt_id = l.attempt_id AND t.lease_owner = $2
       RETURNING t.attempt_id
     ),
     beat AS (UPDATE attempts a SET heartbeat_at = $1 FROM renewed r WHERE a.id = r.attempt_id)
     SELECT attempt_id FROM renewed`,
    [ctx.now, worker, intArray(leases.map((l) => l.taskId)), intArray(leases.map((l) => l.attemptId)), intArray(leases.map((l) => l.leaseMs))],
  );
  const held = new Set(renewed.map((row) => num(row.attempt_id)));
  return leases.filter((lease) => !held.has(lease.attemptId)).map((lease) => lease.attemptId);
}

/**
 * When a claim could next find work: now or earlier when a task is ready (of
 * the given run and workflows), else the earliest of an expired lease to
 * reclaim (a moment after it expires), a retry's backoff ending, a sleeper
 * waking, a gate timing out. Null when nothing is scheduled.
 */
export async function nextDueTx(ctx: { sql: TxContext["sql"] }, options: ClaimOptions): Promise<number | null> {
  const open = options.groups ? options.groups.filter((group) => group.limit > 0) : [{ workflows: options.workflows ?? [] }];
  const workflows = open.some((group) => group.workflows.length === 0) ? [] : open.flatMap((group) => group.workflows);
  const p = new Params();
  const byRun = options.runId === undefined ? "" : `AND run_id = ${p.add(options.runId)}`;
  const byWorkflow = workflows.length === 0 ? "" : `AND workflow = ANY(${p.add(workflows)}::text[])`;
  const ready = open.length === 0 ? "" : `(SELECT min(available_at) FROM tasks WHERE state = 'ready' ${byRun} ${byWorkflow}),`;
  const [row] = await q<{ due: string | null }>(
    ctx.sql,
    `SELECT LEAST(${ready}
       (SELECT min(lease_expires_at) + 1 FROM tasks WHERE state = 'running' ${byRun}),
       (SELECT min(available_at) FROM tasks WHERE state = 'waiting' ${byRun}),
       (SELECT min(timeout_at) FROM gates WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL)) AS due`,
    p.values,
  );
  return row?.due === null || row?.due === undefined ? null : num(row.due);
}

export async function suspendTaskTx(ctx: TxContext, taskId: number, attemptId: number, options: SuspendOptions): Promise<void> {
  const [row] = await q<FencedRow>(
    ctx.sql,
    `UPDATE tasks SET state = 'waiting', attempt_id = NULL, lease_expires_at = NULL, available_at = $1, updated_at = $2
     WHERE id = $3 AND attempt_id = $4 AND state = 'running' RETURNING id, run_id, key, lease_owner`,
    [options.until ?? WAIT_FOREVER, ctx.now, taskId, attemptId],
  );
  if (!row) {
    if (await replayed(ctx, taskId, attemptId, "suspended")) return;
    throw new LeaseLostError(taskId, attemptId, "suspending the task");
  }
  const task = fenced(row);
  if (options.waitingFor !== undefined) await waitForSignal(ctx, taskId, options.waitingFor);
  if (options.step) await writeStep(ctx, taskId, attemptId, options.step);
  if (options.gate) await openGate(ctx, task, options.gate);
  await q(ctx.sql, "UPDATE attempts SET state = 'suspended', ended_at = $1 WHERE id = $2", [ctx.now, attemptId]);
  appendEvent(ctx, { type: "task.waiting", actor: task.lease_owner, runId: task.run_id, taskId, attemptId, data: { reason: options.reason, until: options.until ?? null } });
}

export async function releaseTaskTx(ctx: TxContext, taskId: number, attemptId: number): Promise<void> {
  const [row] = await q<FencedRow>(
    ctx.sql,
    `WITH released AS (
       UPDATE tasks SET state = 'ready', attempt_id = NULL, lease_expires_at = NULL, available_at = $1, updated_at = $1
       WHERE id = $2 AND attempt_id = $3 AND state = 'running' RETURNING id, run_id, key, lease_owner
     ), ended AS (UPDATE attempts SET state = 'released', ended_at = $1 WHERE id = $3 AND EXISTS (SELECT 1 FROM released))
     SELECT * FROM released`,
    [ctx.now, taskId, attemptId],
  );
  if (!row) {
    if (await replayed(ctx, taskId, attemptId, "released")) return;
    throw new LeaseLostError(taskId, attemptId, "releasing the task");
  }
  ctx.ready = true;
  appendEvent(ctx, { type: "task.released", actor: row.lease_owner, runId: row.run_id, taskId, attemptId });
}

/** In a replayed batch (its COMMIT was lost), whether this attempt already ended the way the write would end it. */
async function replayed(ctx: TxContext, taskId: number, attemptId: number, state: "suspended" | "released"): Promise<boolean> {
  if (!ctx.replay) return false;
  const [row] = await q<{ state: string }>(ctx.sql, "SELECT state FROM attempts WHERE id = $1 AND task_id = $2", [attemptId, taskId]);
  return row?.state === state;
}

export { leaseExpiredError };

/** Drones other than `worker` holding a lease that has not expired (by the partial index of running tasks). */
export async function countOtherLeaseHolders(sql: TxContext["sql"], worker: string, now: number): Promise<number> {
  const [row] = await q<{ n: string }>(sql, "SELECT count(DISTINCT lease_owner) AS n FROM tasks WHERE state = 'running' AND lease_expires_at > $1 AND lease_owner <> $2", [now, worker]);
  return num(row?.n ?? 0);
}
