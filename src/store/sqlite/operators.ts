/**
 * Reads for operators (`farcaster workers`, `farcaster doctor`): the open
 * tasks with what they wait on, the workflows each drone ran, and the
 * database itself. One-shot reads, bounded, never on the hot path.
 */
import type { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { OPEN_TASK_STATES, UNFINISHED_RUN_STATES } from "../../core/states.ts";
import { foldDroneWorkflows } from "../droneWorkflows.ts";
import type { DatabaseInfo, DroneWorkflows, OpenTaskRecord } from "../types.ts";
import type { TxContext } from "./context.ts";
import { loadMigrations, schemaVersion, type SyncMode } from "./database.ts";
import { WAIT_FOREVER } from "./leases.ts";
import { inList, sql } from "./statements.ts";
import { RECENT_ATTEMPTS } from "./views.ts";

interface OpenTaskRow {
  id: number; run_id: string; key: string; workflow: string; state: OpenTaskRecord["state"]; available_at: number; waiting_for: string | null;
  lease_owner: string | null; lease_expires_at: number | null; updated_at: number;
}

export function selectOpenTasks(ctx: TxContext, options: { runId?: string; limit: number }): OpenTaskRecord[] {
  const byRun = options.runId === undefined ? "" : "AND t.run_id = ?2";
  const params: (string | number)[] = [options.limit];
  if (options.runId !== undefined) params.push(options.runId);
  const rows = sql<OpenTaskRow, (string | number)[]>(
    ctx.db,
    `SELECT t.id, t.run_id, t.key, t.workflow, t.state, t.available_at, t.waiting_for, t.lease_owner, t.lease_expires_at, t.updated_at
     FROM tasks t JOIN runs r ON r.id = t.run_id
     WHERE r.state IN (${inList(UNFINISHED_RUN_STATES)}) AND t.state IN (${inList(OPEN_TASK_STATES)}) ${byRun}
     ORDER BY t.id LIMIT ?1`,
  ).all(...params);
  const tasks = rows.map((row): OpenTaskRecord => ({
    id: row.id, runId: row.run_id, key: row.key, workflow: row.workflow, state: row.state,
    availableAt: row.available_at >= WAIT_FOREVER ? null : row.available_at, waitingFor: row.waiting_for,
    // A task that suspended keeps its last lease owner in the row; it owns nothing now.
    leaseOwner: row.state === "running" ? row.lease_owner : null, leaseExpiresAt: row.lease_expires_at, updatedAt: row.updated_at, after: [],
  }));
  if (tasks.length > 0) {
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const edges = sql<{ task_id: number; key: string }, [string]>(
      ctx.db,
      "SELECT e.task_id, d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id IN (SELECT value FROM json_each(?))",
    ).all(JSON.stringify(tasks.map((task) => task.id)));
    for (const edge of edges) byId.get(edge.task_id)?.after.push(edge.key);
    for (const task of tasks) task.after.sort();
  }
  return tasks;
}

/** Workflows each worker's recent attempts ran (among the newest RECENT_ATTEMPTS, as selectDrones sees them), those that succeeded, and those of the leases it holds. */
export function selectDroneWorkflows(ctx: TxContext, since: number): Map<string, DroneWorkflows> {
  const rows = sql<{ worker: string; workflow: string; succeeded: number }, [number, number]>(
    ctx.db,
    `SELECT worker, workflow, max(succeeded) AS succeeded FROM (
       SELECT a.worker, t.workflow, a.state = 'succeeded' AS succeeded
       FROM (SELECT worker, task_id, state, heartbeat_at FROM attempts ORDER BY id DESC LIMIT ?1) a JOIN tasks t ON t.id = a.task_id
       WHERE a.heartbeat_at >= ?2
       UNION ALL SELECT lease_owner, workflow, 0 FROM tasks WHERE state = 'running' AND lease_owner IS NOT NULL
     ) GROUP BY worker, workflow ORDER BY worker, workflow`,
  ).all(RECENT_ATTEMPTS, since);
  return foldDroneWorkflows(rows);
}

function fileBytes(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

export function describeSqlite(db: Database, path: string, syncMode: SyncMode): DatabaseInfo {
  const journal = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get();
  return {
    dialect: "sqlite",
    path,
    schemaVersion: schemaVersion(db),
    latestVersion: loadMigrations().length,
    fileBytes: path === ":memory:" ? 0 : fileBytes(path),
    walBytes: path === ":memory:" ? 0 : fileBytes(`${path}-wal`),
    journalMode: journal?.journal_mode ?? "unknown",
    syncMode,
  };
}
