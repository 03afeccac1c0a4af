/**
 * Claiming: one statement leases up to `limit` tasks for all the groups of a
 * claim (a drone claims its unlimited workflows together and each workflow
 * with a concurrency limit apart, see ClaimOptions.groups).
 *
 * CTEs find the candidates, each FOR UPDATE SKIP LOCKED (so concurrent
 * claimers on any number of machines pass each other's rows by; FOR UPDATE
 * is not allowed inside a UNION, so each is a CTE of its own): for each
 * workflow a group names, its best ready tasks, up to the group's room, by
 * the partial index tasks_ready_by_workflow (walking the whole ready set for
 * a few workflows could take long); for a group of any workflow, the best
 * ready tasks of all (tasks_claimable); and a bounded number of expired
 * leases this claim may take over (of its workflows and run, and not past
 * the recovery limit: the upkeep fails those). Candidates are ranked within
 * their group (priority, then the one ready longest, then plan order), each
 * group cut to its room, the groups taken in order up to the limit; the same
 * statement opens the attempts (the attempt id is the fencing token), ends
 * the crashed ones, marks the tasks running and returns what a drone needs,
 * dependency outputs and the run's directory included.
 */
import type { ClaimedTask } from "../types.ts";
import { toClaimedTask, type ClaimedTaskRow } from "../claimedTask.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { fromJson, num, Params, q } from "./sqlText.ts";

/** Expired leases a claim takes over at most (as Absurd's claim_task keeps its claim polling work bounded). */
export const CLAIM_RECLAIM_BATCH = 16;

type ClaimedRow = ClaimedTaskRow & {
  id: string; attempt_id: string; timeout_ms: string | null; cwd: string | null;
  old_attempt: string | null; old_owner: string | null; crashes: number; deps: [string, string | null][] | null;
};

/** `lease expired: drone X stopped heartbeating`, as JSON text, built in SQL from the old owner. */
const LEASE_EXPIRED_ERROR = `json_build_object('message', 'lease expired: drone ' || p.old_owner || ' stopped heartbeating', 'code', 'lease_expired')::text`;

export function leaseExpiredError(owner: string | null): string {
  return JSON.stringify({ message: `lease expired: drone ${owner} stopped heartbeating`, code: "lease_expired" });
}

/** One group of a claim with the room it has: its workflows (none: any), at most `limit` tasks. */
export interface ClaimSlot {
  workflows: readonly string[];
  limit: number;
}

export interface ClaimRequest {
  worker: string;
  /** All groups together, at most. */
  limit: number;
  leaseMs: number;
  runId?: string;
  groups: readonly ClaimSlot[];
  recoveryLimit: number;
}

export async function claimReady(ctx: TxContext, request: ClaimRequest): Promise<ClaimedTask[]> {
  const statement = claimStatement(ctx.now, request);
  if (!statement) return [];
  const { worker, leaseMs } = request;
  const rows = await q<ClaimedRow>(ctx.sql, statement.text, statement.values);
  const expiresAt = ctx.now + leaseMs;
  return rows.map((task) => {
    const taskId = num(task.id);
    const attemptId = num(task.attempt_id);
    if (task.old_attempt !== null) {
      appendEvent(ctx, { type: "task.lease_expired", actor: worker, runId: task.run_id, taskId, attemptId: num(task.old_attempt), data: { owner: task.old_owner ?? "", crashes: task.crashes } });
    }
    appendEvent(ctx, { type: "task.started", actor: worker, runId: task.run_id, taskId, attemptId, data: { attempt: task.attempts } });
    return toClaimedTask(task, {
      taskId, attemptId, timeoutMs: num(task.timeout_ms), leaseExpiresAt: expiresAt, cwd: task.cwd,
      deps: Object.fromEntries((task.deps ?? []).map(([key, output]) => [key, fromJson(output)])),
    });
  });
}

/** The claim's statement and its parameters; null when there is nothing to claim for. (Tests explain it.) */
export function claimStatement(now: number, request: ClaimRequest): { text: string; values: unknown[] } | null {
  const { worker, limit, leaseMs } = request;
  const groups = request.groups.map((group, index) => ({ ...group, index })).filter((group) => group.limit > 0);
  if (limit <= 0 || groups.length === 0) return null;
  const named = groups.flatMap((group) => group.workflows.map((name) => ({ name, index: group.index, limit: group.limit })));
  const any = groups.filter((group) => group.workflows.length === 0);
  const p = new Params();
  for (const value of [worker, now, now + leaseMs, limit, request.recoveryLimit]) p.add(value);
  const names = p.add(named.map((n) => n.name));
  const namedGroups = p.add(named.map((n) => n.index));
  const namedLimits = p.add(named.map((n) => n.limit));
  const anyGroups = p.add(any.map((g) => g.index));
  const anyLimits = p.add(any.map((g) => g.limit));
  const byRun = request.runId === undefined ? "" : `AND t.run_id = ${p.add(request.runId)}`;
  const text = `WITH g AS (SELECT * FROM unnest(${names}::text[], ${namedGroups}::int[], ${namedLimits}::int[]) AS g(name, grp, lim)),
     a AS (SELECT * FROM unnest(${anyGroups}::int[], ${anyLimits}::int[]) AS a(grp, lim)),
     ready AS (
       SELECT c.*, g.grp, g.lim FROM g CROSS JOIN LATERAL (
         SELECT t.id, t.priority, t.available_at, t.attempts FROM tasks t
         WHERE t.state = 'ready' AND t.workflow = g.name AND t.available_at <= $2 ${byRun}
         ORDER BY t.priority DESC, t.available_at, t.id LIMIT g.lim FOR UPDATE SKIP LOCKED) c
     ),
     ready_any AS (
       SELECT c.*, a.grp, a.lim FROM a CROSS JOIN LATERAL (
         SELECT t.id, t.priority, t.available_at, t.attempts FROM tasks t
         WHERE t.state = 'ready' AND t.available_at <= $2 ${byRun}
         ORDER BY t.priority DESC, t.available_at, t.id LIMIT a.lim FOR UPDATE SKIP LOCKED) c
     ),
     expired AS (
       SELECT t.id, t.priority, t.attempts, t.attempt_id, t.lease_owner, t.workflow FROM tasks t
       WHERE t.state = 'running' AND t.lease_expires_at < $2 AND t.crashes < $5 ${byRun}
         AND (EXISTS (SELECT 1 FROM a) OR t.workflow IN (SELECT name FROM g))
       ORDER BY t.lease_expires_at LIMIT ${CLAIM_RECLAIM_BATCH} FOR UPDATE SKIP LOCKED
     ),
     -- An expired lease goes to its workflow's group, else to the first group of any workflow.
     expired_in AS (
       SELECT e.*, x.grp, x.lim FROM expired e CROSS JOIN LATERAL (
         SELECT x.grp, x.lim FROM (SELECT 0 AS named, g.grp, g.lim FROM g WHERE g.name = e.workflow UNION ALL SELECT 1, a.grp, a.lim FROM a) x
         ORDER BY x.named, x.grp LIMIT 1) x
     ),
     -- Each candidate carries its group's room (lim) and the task's attempts so far: nothing below looks them up again.
     candidates AS (
       SELECT DISTINCT ON (c.id) c.* FROM (
         SELECT id, priority, available_at, attempts, grp, lim, NULL::bigint AS old_attempt, NULL::text AS old_owner FROM ready
         UNION ALL SELECT id, priority, available_at, attempts, grp, lim, NULL, NULL FROM ready_any
         UNION ALL SELECT id, priority, $2::bigint, attempts, grp, lim, attempt_id, lease_owner FROM expired_in
       ) c ORDER BY c.id, c.grp -- a task two groups could take counts in the first
     ),
     ranked AS (
       SELECT c.*, row_number() OVER (PARTITION BY c.grp ORDER BY c.priority DESC, c.available_at, c.id) AS rn FROM candidates c
     ),
     -- The attempt ids (the fencing tokens) are drawn here, in claim order (a volatile function in the select
     -- list runs after ORDER BY and LIMIT), so every write below joins picked by key: an INSERT's RETURNING
     -- joined back to picked was planned as a nested loop over both (a CTE is estimated at one row), 128 × 128.
     -- The sequence by the column it serves (its name is attempts_id_seq unless that name was taken when the
     -- table was made); the uncorrelated subquery is evaluated once per statement.
     picked AS (
       SELECT r.*, nextval((SELECT pg_get_serial_sequence('attempts', 'id')::regclass)) AS attempt_id
       FROM (SELECT * FROM ranked WHERE rn <= lim ORDER BY grp, priority DESC, available_at, id LIMIT $4) r
     ),
     opened AS (
       INSERT INTO attempts (id, task_id, number, worker, state, started_at, heartbeat_at) OVERRIDING SYSTEM VALUE
       SELECT p.attempt_id, p.id, p.attempts + 1, $1, 'running', $2, $2 FROM picked p
     ),
     crashed AS (
       UPDATE attempts a SET state = 'crashed', ended_at = $2, error = ${LEASE_EXPIRED_ERROR}
       FROM picked p WHERE p.old_attempt IS NOT NULL AND a.id = p.old_attempt
     ),
     leased AS (
       UPDATE tasks t SET state = 'running', attempt_id = p.attempt_id, lease_owner = $1, lease_expires_at = $3, attempts = t.attempts + 1,
         crashes = t.crashes + (p.old_attempt IS NOT NULL)::int,
         error = CASE WHEN p.old_attempt IS NULL THEN t.error ELSE ${LEASE_EXPIRED_ERROR} END,
         available_at = p.available_at, started_at = coalesce(t.started_at, $2), updated_at = $2, waiting_for = NULL
       FROM picked p WHERE t.id = p.id
       RETURNING t.id, p.attempt_id, t.attempts, t.run_id, t.key, t.workflow, t.input, t.max_attempts, t.timeout_ms, t.feedback, t.scope,
         t.title, t.description, t.crashes, p.old_attempt, p.old_owner
     )
     SELECT l.*, r.cwd,
       (SELECT json_agg(json_build_array(d.key, d.output) ORDER BY d.key) FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = l.id) AS deps
     FROM leased l JOIN runs r ON r.id = l.run_id
     ORDER BY l.attempt_id`;
  return { text, values: p.values };
}
