/**
 * Claiming: one statement leases up to `limit` tasks of one claim group.
 *
 * Two CTEs find the candidates, each FOR UPDATE SKIP LOCKED (so concurrent
 * claimers on any number of machines pass each other's rows by, and FOR
 * UPDATE is not allowed inside a UNION): ready tasks in claim order
 * (priority, then the one ready longest, then plan order), and a bounded
 * number of expired leases this claim may take over (its workflows and run,
 * and not past the recovery limit: the upkeep fails those). Together they
 * are ordered and cut to the limit, and the same statement opens the
 * attempts (the attempt id is the fencing token), ends the crashed ones,
 * marks the tasks running and returns what the drone needs, dependency
 * outputs included.
 */
import type { ClaimedTask, ClaimOptions } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { fromJson, num, Params, q } from "./sqlText.ts";

/** Expired leases a claim takes over at most (as Absurd's claim_task keeps its claim polling work bounded). */
export const CLAIM_RECLAIM_BATCH = 16;

type ClaimedRow = {
  id: string; attempt_id: string; attempts: number; run_id: string; key: string; workflow: string; input: string; max_attempts: number;
  timeout_ms: string | null; feedback: string | null; scope: string | null; title: string; description: string | null; cwd: string | null;
  old_attempt: string | null; old_owner: string | null; crashes: number; deps: [string, string | null][] | null;
};

/** `lease expired: drone X stopped heartbeating`, as JSON text, built in SQL from the old owner. */
const LEASE_EXPIRED_ERROR = `json_build_object('message', 'lease expired: drone ' || p.old_owner || ' stopped heartbeating', 'code', 'lease_expired')::text`;

export function leaseExpiredError(owner: string | null): string {
  return JSON.stringify({ message: `lease expired: drone ${owner} stopped heartbeating`, code: "lease_expired" });
}

export interface ClaimRequest {
  worker: string;
  limit: number;
  leaseMs: number;
  runId?: string;
  workflows: readonly string[];
  recoveryLimit: number;
}

export async function claimReady(ctx: TxContext, request: ClaimRequest): Promise<ClaimedTask[]> {
  const { worker, limit, leaseMs, workflows } = request;
  if (limit <= 0) return [];
  // $1 worker, $2 now, $3 lease expiry, $4 limit, $5 recovery limit; then the run and the workflows if the claim names them.
  const p = new Params();
  for (const value of [worker, ctx.now, ctx.now + leaseMs, limit, request.recoveryLimit]) p.add(value);
  const byRun = request.runId === undefined ? "" : `AND t.run_id = ${p.add(request.runId)}`;
  const names = workflows.length === 0 ? "" : p.add(workflows);
  const byWorkflow = workflows.length === 0 ? "" : `AND t.workflow = ANY(${names}::text[])`;
  // One workflow or all: one walk of an index in claim order. Several: the best `limit` of each
  // (tasks_ready_by_workflow), merged; walking the whole ready set for them could take long.
  const ready =
    workflows.length <= 1
      ? `SELECT t.id, t.priority, t.available_at FROM tasks t
         WHERE t.state = 'ready' AND t.available_at <= $2 ${byRun} ${workflows.length === 1 ? `AND t.workflow = (${names}::text[])[1]` : ""}
         ORDER BY t.priority DESC, t.available_at, t.id LIMIT $4 FOR UPDATE SKIP LOCKED`
      : `SELECT c.id, c.priority, c.available_at FROM unnest(${names}::text[]) AS w(name) CROSS JOIN LATERAL (
           SELECT t.id, t.priority, t.available_at FROM tasks t
           WHERE t.state = 'ready' AND t.workflow = w.name AND t.available_at <= $2 ${byRun}
           ORDER BY t.priority DESC, t.available_at, t.id LIMIT $4 FOR UPDATE SKIP LOCKED) c`;
  const rows = await q<ClaimedRow>(
    ctx.sql,
    `WITH ready AS (${ready}),
     expired AS (
       SELECT t.id, t.priority, t.attempt_id, t.lease_owner FROM tasks t
       WHERE t.state = 'running' AND t.lease_expires_at < $2 AND t.crashes < $5 ${byRun} ${byWorkflow}
       ORDER BY t.lease_expires_at LIMIT ${CLAIM_RECLAIM_BATCH} FOR UPDATE SKIP LOCKED
     ),
     picked AS (
       SELECT * FROM (
         SELECT id, priority, available_at, NULL::bigint AS old_attempt, NULL::text AS old_owner FROM ready
         UNION ALL SELECT id, priority, $2::bigint, attempt_id, lease_owner FROM expired
       ) c ORDER BY priority DESC, available_at, id LIMIT $4
     ),
     opened AS (
       INSERT INTO attempts (task_id, number, worker, state, started_at, heartbeat_at)
       SELECT p.id, t.attempts + 1, $1, 'running', $2, $2 FROM picked p JOIN tasks t ON t.id = p.id
       ORDER BY p.priority DESC, p.available_at, p.id
       RETURNING id, task_id
     ),
     crashed AS (
       UPDATE attempts a SET state = 'crashed', ended_at = $2, error = ${LEASE_EXPIRED_ERROR}
       FROM picked p WHERE p.old_attempt IS NOT NULL AND a.id = p.old_attempt
     ),
     leased AS (
       UPDATE tasks t SET state = 'running', attempt_id = o.id, lease_owner = $1, lease_expires_at = $3, attempts = t.attempts + 1,
         crashes = t.crashes + (p.old_attempt IS NOT NULL)::int,
         error = CASE WHEN p.old_attempt IS NULL THEN t.error ELSE ${LEASE_EXPIRED_ERROR} END,
         available_at = p.available_at, started_at = coalesce(t.started_at, $2), updated_at = $2, waiting_for = NULL
       FROM opened o JOIN picked p ON p.id = o.task_id WHERE t.id = o.task_id
       RETURNING t.id, o.id AS attempt_id, t.attempts, t.run_id, t.key, t.workflow, t.input, t.max_attempts, t.timeout_ms, t.feedback, t.scope,
         t.title, t.description, t.crashes, p.old_attempt, p.old_owner
     )
     SELECT l.*, r.cwd,
       (SELECT json_agg(json_build_array(d.key, d.output) ORDER BY d.key) FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = l.id) AS deps
     FROM leased l JOIN runs r ON r.id = l.run_id
     ORDER BY l.attempt_id`,
    p.values,
  );
  const expiresAt = ctx.now + leaseMs;
  return rows.map((task) => {
    const taskId = num(task.id);
    const attemptId = num(task.attempt_id);
    if (task.old_attempt !== null) {
      appendEvent(ctx, { type: "task.lease_expired", actor: worker, runId: task.run_id, taskId, attemptId: num(task.old_attempt), data: { owner: task.old_owner ?? "", crashes: task.crashes } });
    }
    appendEvent(ctx, { type: "task.started", actor: worker, runId: task.run_id, taskId, attemptId, data: { attempt: task.attempts } });
    return {
      taskId,
      attemptId,
      runId: task.run_id,
      key: task.key,
      workflow: task.workflow,
      input: fromJson(task.input),
      attempt: task.attempts,
      maxAttempts: task.max_attempts,
      timeoutMs: num(task.timeout_ms),
      leaseExpiresAt: expiresAt,
      feedback: fromJson(task.feedback) ?? [],
      scope: fromJson(task.scope),
      title: task.title,
      description: task.description,
      cwd: task.cwd,
      deps: Object.fromEntries((task.deps ?? []).map(([key, output]) => [key, fromJson(output)])),
    };
  });
}

/** The groups of a claim, in order, each with the room it has left (see ClaimOptions.groups). */
export function claimGroups(limit: number, options: ClaimOptions): readonly { workflows: readonly string[]; limit: number }[] {
  return options.groups ?? [{ workflows: options.workflows ?? [], limit }];
}
