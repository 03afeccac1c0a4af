/**
 * Reads for viewers (the dashboard) on PostgreSQL: the same answers as
 * sqlite/views.ts (the contract suite's viewer tests hold both to them).
 * Each reads only the columns it shows and is bounded, so a viewer can repeat
 * it on every change beside working drones.
 */
import type { SQL } from "bun";
import { PLANNING_TASK_KEY, type FailReason, type TaskState } from "../../core/states.ts";
import type { DroneRecord, EventTail, HeldLease, LogRecord, StateCounts, TaskSummary } from "../types.ts";
import { toEvent, toLog, type EventRow, type LogRow } from "./rows.ts";
import { fromJson, num, q } from "./sqlText.ts";

/** How far back among attempts a drone counts as seen: the newest this many, then filtered by heartbeat time. */
export const RECENT_ATTEMPTS = 5_000;

type Int8 = string;

interface SummaryRow {
  id: Int8; key: string; title: string; workflow: string; state: TaskState; attempts: number; max_attempts: number; attempt_id: Int8 | null;
  lease_owner: string | null; lease_expires_at: Int8 | null; fail_reason: FailReason | null; error: string | null; updated_at: Int8;
  started_at: Int8 | null; finished_at: Int8 | null; attempt_started_at: Int8 | null;
}

const SUMMARY_SELECT = `SELECT t.id, t.key, t.title, t.workflow, t.state, t.attempts, t.max_attempts, t.attempt_id, t.lease_owner, t.lease_expires_at,
  t.fail_reason, t.error, t.updated_at, t.started_at, t.finished_at, a.started_at AS attempt_started_at
  FROM tasks t LEFT JOIN attempts a ON t.state = 'running' AND a.id = t.attempt_id`;

function toSummary(runId: string, r: SummaryRow): TaskSummary {
  return {
    id: num(r.id), runId, key: r.key, title: r.title, workflow: r.workflow, state: r.state, attempts: r.attempts, maxAttempts: r.max_attempts,
    attemptId: num(r.attempt_id), leaseOwner: r.lease_owner, leaseExpiresAt: num(r.lease_expires_at), failReason: r.fail_reason, error: fromJson(r.error),
    updatedAt: num(r.updated_at), startedAt: num(r.started_at), finishedAt: num(r.finished_at), attemptStartedAt: num(r.attempt_started_at), after: [],
  };
}

/** The run's tasks (or those changed since a time) as summaries in id order, their dependencies by key, and how many tasks the run has. */
export async function selectTaskSummaries(sql: SQL, runId: string, changedSince?: number): Promise<{ tasks: TaskSummary[]; taskCount: number }> {
  const [count] = await q<{ n: Int8 }>(sql, "SELECT count(*) AS n FROM tasks WHERE run_id = $1", [runId]);
  const rows =
    changedSince === undefined
      ? await q<SummaryRow>(sql, `${SUMMARY_SELECT} WHERE t.run_id = $1 ORDER BY t.id`, [runId])
      : await q<SummaryRow>(sql, `${SUMMARY_SELECT} WHERE t.run_id = $1 AND t.updated_at >= $2 ORDER BY t.id`, [runId, changedSince]);
  const tasks = rows.map((row) => toSummary(runId, row));
  if (tasks.length > 0) {
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const edges =
      changedSince === undefined
        ? await q<{ task_id: Int8; key: string }>(sql, "SELECT e.task_id, d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE d.run_id = $1", [runId])
        : await q<{ task_id: Int8; key: string }>(sql, "SELECT e.task_id, d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = ANY($1::bigint[])", [
            tasks.map((task) => task.id),
          ]);
    for (const edge of edges) byId.get(num(edge.task_id))?.after.push(edge.key);
    for (const task of tasks) if (task.after.length > 1) task.after.sort();
  }
  return { tasks, taskCount: num(count!.n) };
}

export async function selectStateCounts(sql: SQL, runIds: readonly string[]): Promise<Record<string, StateCounts>> {
  const out: Record<string, StateCounts> = {};
  if (runIds.length === 0) return out;
  const rows = await q<{ run_id: string; state: TaskState; n: Int8 }>(
    sql,
    "SELECT run_id, state, count(*) AS n FROM tasks WHERE run_id = ANY($1::text[]) AND key <> $2 GROUP BY run_id, state",
    [[...runIds], PLANNING_TASK_KEY],
  );
  for (const row of rows) (out[row.run_id] ??= {})[row.state] = num(row.n);
  return out;
}

export async function selectDrones(sql: SQL, since: number): Promise<DroneRecord[]> {
  const drones = new Map<string, DroneRecord>();
  const recent = await q<{ worker: string; heartbeat_at: Int8; n: Int8 }>(
    sql,
    `SELECT worker, max(heartbeat_at) AS heartbeat_at, count(*) AS n
     FROM (SELECT worker, heartbeat_at FROM attempts ORDER BY id DESC LIMIT $1) recent WHERE heartbeat_at >= $2 GROUP BY worker`,
    [RECENT_ATTEMPTS, since],
  );
  for (const row of recent) drones.set(row.worker, { id: row.worker, lastHeartbeatAt: num(row.heartbeat_at), attempts: num(row.n), leases: [] });
  const held = await q<{ task_id: Int8; run_id: string; key: string; attempt_id: Int8; owner: string; expires: Int8; started_at: Int8; heartbeat_at: Int8 }>(
    sql,
    `SELECT t.id AS task_id, t.run_id, t.key, t.attempt_id, t.lease_owner AS owner, t.lease_expires_at AS expires, a.started_at, a.heartbeat_at
     FROM tasks t JOIN attempts a ON a.id = t.attempt_id WHERE t.state = 'running' AND t.lease_expires_at IS NOT NULL ORDER BY t.lease_expires_at, t.id`,
  );
  for (const row of held) {
    const lease: HeldLease = {
      taskId: num(row.task_id), runId: row.run_id, key: row.key, attemptId: num(row.attempt_id), leaseExpiresAt: num(row.expires),
      startedAt: num(row.started_at), heartbeatAt: num(row.heartbeat_at),
    };
    const drone = drones.get(row.owner);
    if (drone) {
      drone.leases.push(lease);
      drone.lastHeartbeatAt = Math.max(drone.lastHeartbeatAt, lease.heartbeatAt);
    } else drones.set(row.owner, { id: row.owner, lastHeartbeatAt: lease.heartbeatAt, attempts: 1, leases: [lease] });
  }
  return [...drones.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function selectEventTail(sql: SQL, options: { runId?: string; limit: number }): Promise<EventTail> {
  const columns = "id, at, type, actor, run_id, task_id, attempt_id, data";
  const rows =
    options.runId === undefined
      ? await q<EventRow>(sql, `SELECT * FROM (SELECT ${columns} FROM events ORDER BY id DESC LIMIT $1) tail ORDER BY id`, [options.limit])
      : await q<EventRow>(sql, `SELECT * FROM (SELECT ${columns} FROM events WHERE run_id = $1 ORDER BY id DESC LIMIT $2) tail ORDER BY id`, [options.runId, options.limit]);
  const events = rows.map(toEvent);
  const ids = [...new Set(events.map((e) => e.taskId).filter((id): id is number => id !== null))];
  const taskKeys: Record<number, string> = {};
  if (ids.length > 0) {
    for (const row of await q<{ id: Int8; key: string }>(sql, "SELECT id, key FROM tasks WHERE id = ANY($1::bigint[])", [ids])) taskKeys[num(row.id)] = row.key;
  }
  return { events, taskKeys };
}

export async function selectLogTail(sql: SQL, taskId: number, limit: number): Promise<LogRecord[]> {
  const rows = await q<LogRow>(
    sql,
    "SELECT * FROM (SELECT id, task_id, attempt_id, at, stream, text FROM task_logs WHERE task_id = $1 ORDER BY id DESC LIMIT $2) tail ORDER BY id",
    [taskId, limit],
  );
  return rows.map(toLog);
}
