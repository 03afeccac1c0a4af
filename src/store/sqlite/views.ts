/**
 * Reads for viewers (the dashboard): a large run as summaries, task counts of
 * many runs, the drones, the tails of the event log and of a task's output.
 * Each reads only the columns it shows and is bounded, so a viewer can repeat
 * it on every change beside working drones.
 */
import { PLANNING_TASK_KEY, type FailReason, type TaskState } from "../../core/states.ts";
import type { DroneRecord, EventTail, HeldLease, LogRecord, StateCounts, TaskSummary } from "../types.ts";
import type { TxContext } from "./context.ts";
import { fromJson, toEvent, type EventRow } from "./rows.ts";
import { sql } from "./statements.ts";

/** How far back among attempts a drone counts as seen: the newest this many, then filtered by heartbeat time. */
export const RECENT_ATTEMPTS = 5_000;

type SummaryRow = [
  id: number, key: string, title: string, workflow: string, state: TaskState, attempts: number, maxAttempts: number, attemptId: number | null,
  leaseOwner: string | null, leaseExpiresAt: number | null, failReason: FailReason | null, error: string | null, updatedAt: number,
  startedAt: number | null, finishedAt: number | null, attemptStartedAt: number | null,
];

// Positional rows (`values()`) of the columns a board shows: ten thousand tasks are read in a few milliseconds this way.
const SUMMARY_COLUMNS = `t.id, t.key, t.title, t.workflow, t.state, t.attempts, t.max_attempts, t.attempt_id, t.lease_owner, t.lease_expires_at,
  t.fail_reason, t.error, t.updated_at, t.started_at, t.finished_at,
  CASE WHEN t.state = 'running' THEN (SELECT a.started_at FROM attempts a WHERE a.id = t.attempt_id) END`;

function toSummary(runId: string, r: SummaryRow): TaskSummary {
  return {
    id: r[0], runId, key: r[1], title: r[2], workflow: r[3], state: r[4], attempts: r[5], maxAttempts: r[6], attemptId: r[7],
    leaseOwner: r[8], leaseExpiresAt: r[9], failReason: r[10], error: fromJson(r[11]), updatedAt: r[12], startedAt: r[13],
    finishedAt: r[14], attemptStartedAt: r[15], after: [],
  };
}

/** The run's tasks (or those changed since a time) as summaries in id order, and how many tasks the run has. */
export function selectTaskSummaries(ctx: TxContext, runId: string, changedSince?: number): { tasks: TaskSummary[]; taskCount: number } {
  const taskCount = sql<{ n: number }, [string]>(ctx.db, "SELECT count(*) AS n FROM tasks WHERE run_id = ?").get(runId)!.n;
  // In the order of the (run_id, key) index, then sorted by id here: cheaper than SQLite's sort into a temporary B-tree.
  const rows = (
    changedSince === undefined
      ? sql<unknown, [string]>(ctx.db, `SELECT ${SUMMARY_COLUMNS} FROM tasks t WHERE t.run_id = ?`).values(runId)
      : sql<unknown, [string, number]>(ctx.db, `SELECT ${SUMMARY_COLUMNS} FROM tasks t WHERE t.run_id = ? AND t.updated_at >= ?`).values(runId, changedSince)
  ) as unknown as SummaryRow[];
  rows.sort((a, b) => a[0] - b[0]);
  const tasks = rows.map((row) => toSummary(runId, row));
  const byId = new Map(tasks.map((task) => [task.id, task]));
  if (changedSince === undefined) {
    // All of the run's edges at once, as ids: the keys are those of the tasks just read.
    const edges = sql<unknown, [string]>(ctx.db, "SELECT e.task_id, e.depends_on FROM task_deps e JOIN tasks t ON t.id = e.task_id WHERE t.run_id = ?").values(runId) as unknown as [number, number][];
    for (const [taskId, dependsOn] of edges) {
      const dep = byId.get(dependsOn);
      if (dep) byId.get(taskId)?.after.push(dep.key);
    }
  } else if (tasks.length > 0) {
    const edges = sql<unknown, [string]>(
      ctx.db,
      "SELECT e.task_id, d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id IN (SELECT value FROM json_each(?))",
    ).values(JSON.stringify(tasks.map((t) => t.id))) as unknown as [number, string][];
    for (const [taskId, key] of edges) byId.get(taskId)?.after.push(key);
  }
  for (const task of tasks) if (task.after.length > 1) task.after.sort();
  return { tasks, taskCount };
}

export function selectStateCounts(ctx: TxContext, runIds: readonly string[]): Record<string, StateCounts> {
  const out: Record<string, StateCounts> = {};
  if (runIds.length === 0) return out;
  const rows = sql<{ run_id: string; state: TaskState; n: number }, [string, string]>(
    ctx.db,
    "SELECT run_id, state, count(*) AS n FROM tasks WHERE run_id IN (SELECT value FROM json_each(?)) AND key != ? GROUP BY run_id, state",
  ).all(JSON.stringify(runIds), PLANNING_TASK_KEY);
  for (const row of rows) (out[row.run_id] ??= {})[row.state] = row.n;
  return out;
}

export function selectDrones(ctx: TxContext, since: number): DroneRecord[] {
  const drones = new Map<string, DroneRecord>();
  const recent = sql<{ worker: string; heartbeat_at: number; n: number }, [number, number]>(
    ctx.db,
    `SELECT worker, max(heartbeat_at) AS heartbeat_at, count(*) AS n
     FROM (SELECT worker, heartbeat_at FROM attempts ORDER BY id DESC LIMIT ?) WHERE heartbeat_at >= ? GROUP BY worker`,
  ).all(RECENT_ATTEMPTS, since);
  for (const row of recent) drones.set(row.worker, { id: row.worker, lastHeartbeatAt: row.heartbeat_at, attempts: row.n, leases: [] });
  // Running tasks: the partial index tasks_leased holds only these.
  const held = sql<{ task_id: number; run_id: string; key: string; attempt_id: number; owner: string; expires: number; started_at: number; heartbeat_at: number }, []>(
    ctx.db,
    `SELECT t.id AS task_id, t.run_id, t.key, t.attempt_id, t.lease_owner AS owner, t.lease_expires_at AS expires, a.started_at, a.heartbeat_at
     FROM tasks t JOIN attempts a ON a.id = t.attempt_id WHERE t.state = 'running' AND t.lease_expires_at IS NOT NULL ORDER BY t.lease_expires_at, t.id`,
  ).all();
  for (const row of held) {
    const lease: HeldLease = { taskId: row.task_id, runId: row.run_id, key: row.key, attemptId: row.attempt_id, leaseExpiresAt: row.expires, startedAt: row.started_at, heartbeatAt: row.heartbeat_at };
    const drone = drones.get(row.owner);
    if (drone) {
      drone.leases.push(lease);
      drone.lastHeartbeatAt = Math.max(drone.lastHeartbeatAt, row.heartbeat_at);
    } else drones.set(row.owner, { id: row.owner, lastHeartbeatAt: row.heartbeat_at, attempts: 1, leases: [lease] });
  }
  return [...drones.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function selectEventTail(ctx: TxContext, options: { runId?: string; limit: number }): EventTail {
  const rows =
    options.runId === undefined
      ? sql<EventRow, [number]>(ctx.db, "SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id").all(options.limit)
      : sql<EventRow, [string, number]>(ctx.db, "SELECT * FROM (SELECT * FROM events WHERE run_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id").all(options.runId, options.limit);
  const events = rows.map(toEvent);
  const ids = [...new Set(events.map((e) => e.taskId).filter((id): id is number => id !== null))];
  const taskKeys: Record<number, string> = {};
  if (ids.length > 0) {
    const keys = sql<{ id: number; key: string }, [string]>(ctx.db, "SELECT id, key FROM tasks WHERE id IN (SELECT value FROM json_each(?))").all(JSON.stringify(ids));
    for (const row of keys) taskKeys[row.id] = row.key;
  }
  return { events, taskKeys };
}

export function selectLogTail(ctx: TxContext, taskId: number, limit: number): LogRecord[] {
  return sql<{ id: number; task_id: number; attempt_id: number; at: number; stream: LogRecord["stream"]; text: string }, [number, number]>(
    ctx.db,
    "SELECT * FROM (SELECT * FROM task_logs WHERE task_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
  )
    .all(taskId, limit)
    .map((row) => ({ id: row.id, taskId: row.task_id, attemptId: row.attempt_id, at: row.at, stream: row.stream, text: row.text }));
}
