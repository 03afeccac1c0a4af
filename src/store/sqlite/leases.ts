/**
 * Leases: claiming ready tasks, keeping them (heartbeats, step commits) and
 * giving them back (suspend, release). Each function runs inside the caller's
 * write transaction; each write for a running task is fenced by
 * (task id, attempt id, state = running).
 */
import type { SQLQueryBindings } from "bun:sqlite";
import { LeaseLostError } from "../../core/errors.ts";
import type { ClaimedTask, ClaimOptions, StepWrite, SuspendOptions } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { openGate } from "./gates.ts";
import { failForGood, type FencedTask } from "./outcomes.ts";
import { fromJson, toJson } from "./rows.ts";

/** `available_at` of a task that waits to be woken (a gate, an event) rather than for a time. */
export const WAIT_FOREVER = 8_640_000_000_000_000;

/** Expired leases reclaimed per claim: keeps every claim's work bounded (as Absurd's claim_task does). */
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
  const expired = ctx.db
    .query<FencedTask & { attempt_id: number; crashes: number; failures: number }, [number, number]>(
      `SELECT id, run_id, key, lease_owner, attempt_id, crashes, failures FROM tasks
       WHERE state = 'running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`,
    )
    .all(ctx.now, RECLAIM_BATCH);
  for (const task of expired) {
    const error = JSON.stringify({ message: `lease expired: drone ${task.lease_owner} stopped heartbeating`, code: "lease_expired" });
    ctx.db.query("UPDATE attempts SET state = 'crashed', ended_at = ?, error = ? WHERE id = ?").run(ctx.now, error, task.attempt_id);
    const crashes = task.crashes + 1;
    appendEvent(ctx, { type: "task.lease_expired", actor, runId: task.run_id, taskId: task.id, attemptId: task.attempt_id, data: { owner: task.lease_owner, crashes } });
    if (crashes > policy.recoveryLimit) {
      ctx.db.query("UPDATE tasks SET crashes = ? WHERE id = ?").run(crashes, task.id);
      const message = `task "${task.key}" crashed its drone ${crashes} times (recovery limit ${policy.recoveryLimit}); not retrying`;
      failForGood(ctx, task, JSON.stringify({ message, code: "recovery_limit" }), "recovery_limit", task.failures, actor, task.attempt_id);
    } else {
      ctx.db
        .query(
          `UPDATE tasks SET state = 'ready', crashes = ?, error = ?, attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
           WHERE id = ?`,
        )
        .run(crashes, error, ctx.now, ctx.now, task.id);
    }
  }
  return expired.length;
}

/** Sleeping tasks whose time has come become ready. */
export function wakeSleepers(ctx: TxContext): number {
  return ctx.db
    .query(`UPDATE tasks SET state = 'ready', updated_at = ?1 WHERE state = 'waiting' AND available_at <= ?1`)
    .run(ctx.now).changes;
}

export function claimReady(ctx: TxContext, worker: string, limit: number, leaseMs: number, options: ClaimOptions): ClaimedTask[] {
  const workflows = options.workflows ?? [];
  const byWorkflow = workflows.length > 0 ? `AND workflow IN (${workflows.map(() => "?").join(",")})` : "";
  const byRun = options.runId ? "AND run_id = ?" : "";
  const candidates = ctx.db
    .query<{ id: number }, (string | number)[]>(
      `SELECT id FROM tasks WHERE state = 'ready' AND available_at <= ? ${byWorkflow} ${byRun}
       ORDER BY priority DESC, available_at, id LIMIT ?`,
    )
    .all(ctx.now, ...workflows, ...(options.runId ? [options.runId] : []), limit);
  const expiresAt = ctx.now + leaseMs;
  const claimed: ClaimedTask[] = [];
  for (const { id } of candidates) {
    const attempt = ctx.db
      .query<{ id: number; number: number }, [number, string, number, number]>(
        `INSERT INTO attempts (task_id, number, worker, state, started_at, heartbeat_at)
         VALUES (?1, (SELECT attempts + 1 FROM tasks WHERE id = ?1), ?2, 'running', ?3, ?4) RETURNING id, number`,
      )
      .get(id, worker, ctx.now, ctx.now)!;
    const task = ctx.db
      .query<{ run_id: string; key: string; workflow: string; input: string; max_attempts: number; timeout_ms: number | null; feedback: string | null }, SQLQueryBindings[]>(
        `UPDATE tasks SET state = 'running', attempt_id = ?, lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1,
           started_at = coalesce(started_at, ?), updated_at = ?
         WHERE id = ? RETURNING run_id, key, workflow, input, max_attempts, timeout_ms, feedback`,
      )
      .get(attempt.id, worker, expiresAt, ctx.now, ctx.now, id)!;
    appendEvent(ctx, { type: "task.started", actor: worker, runId: task.run_id, taskId: id, attemptId: attempt.id, data: { attempt: attempt.number } });
    claimed.push({
      taskId: id,
      attemptId: attempt.id,
      runId: task.run_id,
      key: task.key,
      workflow: task.workflow,
      input: fromJson(task.input),
      attempt: attempt.number,
      maxAttempts: task.max_attempts,
      timeoutMs: task.timeout_ms,
      leaseExpiresAt: expiresAt,
      feedback: fromJson(task.feedback) ?? [],
    });
  }
  return claimed;
}

/** The fence: throws LeaseLostError unless the attempt still holds the task. Optionally extends the lease. */
export function checkLease(ctx: TxContext, taskId: number, attemptId: number, leaseMs: number | undefined, operation: string): number | null {
  const row = ctx.db
    .query<{ lease_expires_at: number }, [number | null, number, number, number]>(
      `UPDATE tasks SET lease_expires_at = coalesce(?, lease_expires_at), updated_at = ?
       WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING lease_expires_at`,
    )
    .get(leaseMs === undefined ? null : ctx.now + leaseMs, ctx.now, taskId, attemptId);
  if (!row) throw new LeaseLostError(taskId, attemptId, operation);
  return row.lease_expires_at;
}

export function extendLeaseTx(ctx: TxContext, taskId: number, attemptId: number, leaseMs: number): number {
  const expiresAt = checkLease(ctx, taskId, attemptId, leaseMs, "the heartbeat")!;
  ctx.db.query("UPDATE attempts SET heartbeat_at = ? WHERE id = ?").run(ctx.now, attemptId);
  return expiresAt;
}

export function recordStepTx(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite, leaseMs: number | undefined): void {
  checkLease(ctx, taskId, attemptId, leaseMs, `recording step "${step.key}"`);
  writeStep(ctx, taskId, attemptId, step);
}

function writeStep(ctx: TxContext, taskId: number, attemptId: number, step: StepWrite): void {
  // A step recorded as waiting (a sleep, a gate) is completed later by a later attempt;
  // a completed or failed step is a fact and is never overwritten.
  const changed = ctx.db
    .query(
      `INSERT INTO steps (task_id, key, seq, kind, attempt_id, status, input, output, error, started_at, ended_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (task_id, key) DO UPDATE SET
         attempt_id = excluded.attempt_id, status = excluded.status, output = excluded.output,
         error = excluded.error, ended_at = excluded.ended_at
       WHERE steps.status = 'waiting'`,
    )
    .run(taskId, step.key, step.seq, step.kind, attemptId, step.status, toJson(step.input), toJson(step.output), toJson(step.error),
      step.startedAt, step.endedAt).changes;
  if (changed === 0) throw new Error(`step "${step.key}" of task ${taskId} is already recorded; replay must return it instead of running it again`);
}

export function suspendTaskTx(ctx: TxContext, taskId: number, attemptId: number, options: SuspendOptions): void {
  const task = ctx.db
    .query<FencedTask, [number, number, number, number]>(
      `UPDATE tasks SET state = 'waiting', attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
       WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING id, run_id, key, lease_owner`,
    )
    .get(options.until ?? WAIT_FOREVER, ctx.now, taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "suspending the task");
  if (options.step) writeStep(ctx, taskId, attemptId, options.step);
  if (options.gate) openGate(ctx, task, options.gate);
  ctx.db.query("UPDATE attempts SET state = 'suspended', ended_at = ? WHERE id = ?").run(ctx.now, attemptId);
  appendEvent(ctx, { type: "task.waiting", actor: task.lease_owner, runId: task.run_id, taskId, attemptId, data: { reason: options.reason, until: options.until ?? null } });
}

export function releaseTaskTx(ctx: TxContext, taskId: number, attemptId: number): void {
  const task = ctx.db
    .query<FencedTask, [number, number, number, number]>(
      `UPDATE tasks SET state = 'ready', attempt_id = NULL, lease_expires_at = NULL, available_at = ?, updated_at = ?
       WHERE id = ? AND attempt_id = ? AND state = 'running' RETURNING id, run_id, key, lease_owner`,
    )
    .get(ctx.now, ctx.now, taskId, attemptId);
  if (!task) throw new LeaseLostError(taskId, attemptId, "releasing the task");
  ctx.db.query("UPDATE attempts SET state = 'released', ended_at = ? WHERE id = ?").run(ctx.now, attemptId);
  appendEvent(ctx, { type: "task.released", actor: task.lease_owner, runId: task.run_id, taskId, attemptId });
}
