/**
 * The workflows each drone ran, as both stores read them (one row per worker
 * and workflow, in byte order) and attach them to listDrones' records: the
 * dialects differ only in the SQL that gives the rows.
 */
import type { DroneRecord, DroneWorkflows } from "./types.ts";

export interface DroneWorkflowRow {
  worker: string;
  workflow: string;
  /** Whether one of its recent attempts of that workflow succeeded (SQLite gives 0/1). */
  succeeded: boolean | number;
}

export function foldDroneWorkflows(rows: readonly DroneWorkflowRow[]): Map<string, DroneWorkflows> {
  const out = new Map<string, DroneWorkflows>();
  for (const row of rows) {
    const entry = out.get(row.worker) ?? { workflows: [], succeeded: [] };
    entry.workflows.push(row.workflow);
    if (row.succeeded) entry.succeeded.push(row.workflow);
    out.set(row.worker, entry);
  }
  return out;
}

/** Fills each drone's workflows (ran, and succeeded) from the map; a drone without rows ran none. */
export function attachWorkflows(drones: DroneRecord[], workflows: ReadonlyMap<string, DroneWorkflows>): DroneRecord[] {
  for (const drone of drones) {
    const ran = workflows.get(drone.id);
    drone.workflows = ran?.workflows ?? [];
    drone.succeededWorkflows = ran?.succeeded ?? [];
  }
  return drones;
}
