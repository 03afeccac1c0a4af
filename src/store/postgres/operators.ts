/**
 * Reads for operators (`farcaster workers`, `farcaster doctor`) on
 * PostgreSQL: the same answers as sqlite/operators.ts (the contract suite's
 * operator tests hold both to them). One-shot reads, bounded.
 */
import type { SQL } from "bun";
import { OPEN_TASK_STATES, UNFINISHED_RUN_STATES } from "../../core/states.ts";
import { foldDroneWorkflows } from "../droneWorkflows.ts";
import type { DatabaseInfo, DroneWorkflows, OpenTaskRecord } from "../types.ts";
import { loadMigrations, type PgTarget } from "./database.ts";
import { WAIT_FOREVER } from "./leases.ts";
import { inList, num, Params, q } from "./sqlText.ts";
import { RECENT_ATTEMPTS } from "./views.ts";

type Int8 = string;

interface OpenTaskRow {
  id: Int8; run_id: string; key: string; workflow: string; state: OpenTaskRecord["state"]; available_at: Int8; waiting_for: string | null;
  lease_owner: string | null; lease_expires_at: Int8 | null; updated_at: Int8;
}

export async function selectOpenTasks(sql: SQL, options: { runId?: string; limit: number }): Promise<OpenTaskRecord[]> {
  const p = new Params();
  const byRun = options.runId === undefined ? "" : `AND t.run_id = ${p.add(options.runId)}`;
  const rows = await q<OpenTaskRow>(
    sql,
    `SELECT t.id, t.run_id, t.key, t.workflow, t.state, t.available_at, t.waiting_for, t.lease_owner, t.lease_expires_at, t.updated_at
     FROM tasks t JOIN runs r ON r.id = t.run_id
     WHERE r.state IN (${inList(UNFINISHED_RUN_STATES)}) AND t.state IN (${inList(OPEN_TASK_STATES)}) ${byRun}
     ORDER BY t.id LIMIT ${p.add(options.limit)}`,
    p.values,
  );
  const tasks = rows.map((row): OpenTaskRecord => {
    const availableAt = num(row.available_at);
    return {
      id: num(row.id), runId: row.run_id, key: row.key, workflow: row.workflow, state: row.state,
      availableAt: availableAt >= WAIT_FOREVER ? null : availableAt, waitingFor: row.waiting_for,
      // A task that suspended keeps its last lease owner in the row; it owns nothing now.
      leaseOwner: row.state === "running" ? row.lease_owner : null, leaseExpiresAt: num(row.lease_expires_at), updatedAt: num(row.updated_at), after: [],
    };
  });
  if (tasks.length > 0) {
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const edges = await q<{ task_id: Int8; key: string }>(
      sql,
      "SELECT e.task_id, d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = ANY($1::bigint[])",
      [tasks.map((task) => task.id)],
    );
    for (const edge of edges) byId.get(num(edge.task_id))?.after.push(edge.key);
    for (const task of tasks) task.after.sort();
  }
  return tasks;
}

/** Workflows each worker's recent attempts ran, those that succeeded, and those of the leases it holds now (as selectDrones sees the drones). */
export async function selectDroneWorkflows(sql: SQL, since: number): Promise<Map<string, DroneWorkflows>> {
  const rows = await q<{ worker: string; workflow: string; succeeded: boolean }>(
    sql,
    // Byte order (COLLATE "C"), as SQLite sorts: the database's collation would order names differently.
    `SELECT worker, workflow, bool_or(succeeded) AS succeeded FROM (
       SELECT a.worker, t.workflow, a.state = 'succeeded' AS succeeded
       FROM (SELECT worker, task_id, state, heartbeat_at FROM attempts ORDER BY id DESC LIMIT $1) a JOIN tasks t ON t.id = a.task_id
       WHERE a.heartbeat_at >= $2
       UNION ALL SELECT lease_owner, workflow, false FROM tasks WHERE state = 'running' AND lease_owner IS NOT NULL
     ) u GROUP BY worker, workflow ORDER BY worker COLLATE "C", workflow COLLATE "C"`,
    [RECENT_ATTEMPTS, since],
  );
  return foldDroneWorkflows(rows);
}

export async function describePostgres(sql: SQL, target: PgTarget, schema: string): Promise<DatabaseInfo> {
  const [version] = await q<{ version: number | null }>(sql, "SELECT max(version) AS version FROM schema_migrations");
  const [server] = await q<{ server_version: string }>(sql, "SHOW server_version");
  return {
    dialect: "postgres",
    target: target.server, // the schema is its own field (the label would name it twice)
    schema,
    schemaVersion: version?.version ?? 0,
    latestVersion: loadMigrations().length,
    serverVersion: server?.server_version ?? "unknown",
  };
}
