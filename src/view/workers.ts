/**
 * `farcaster workers`: the drones seen lately as rows, each with whether it
 * looks alive. The database sees a drone only through its attempts and their
 * heartbeats, so "looks alive" is read from its leases; on the drone's own
 * machine the caller can also ask the operating system whether its process
 * is still there (`processAlive`), which settles it.
 */
import { droneRows, type DroneRow } from "./drones.ts";
import type { DroneRecord } from "../store/types.ts";

export type Liveness =
  /** Holds leases and heartbeats them. */
  | "alive"
  /** Holds leases whose heartbeat is overdue: stuck, or gone. */
  | "late"
  /** Holds a lease that expired: it stopped heartbeating. */
  | "dead"
  /** Its process is not running (checked on this machine). */
  | "gone"
  /** Holds nothing: it may be waiting for work, or have stopped (an idle drone leaves no trace). */
  | "idle";

export interface WorkerRow extends DroneRow {
  workflows: string[];
  lastHeartbeatAt: number;
  liveness: Liveness;
  /** Whether its process runs, when it could be checked (this machine); null otherwise. */
  processRunning: boolean | null;
}

/** Whether process `pid` of `host` runs, or null when that cannot be known from here. */
export type ProcessProbe = (host: string, pid: string) => boolean | null;

export function workerRows(drones: readonly DroneRecord[], now: number, processAlive: ProcessProbe): WorkerRow[] {
  const rows = droneRows(drones, now);
  return rows.map((row, i) => {
    const drone = drones[i]!;
    const processRunning = row.host && row.pid ? processAlive(row.host, row.pid) : null;
    const liveness: Liveness =
      processRunning === false ? "gone" : row.warning === "expired" ? "dead" : row.warning === "expiring" ? "late" : row.held > 0 ? "alive" : "idle";
    return { ...row, workflows: drone.workflows ?? [], lastHeartbeatAt: drone.lastHeartbeatAt, liveness, processRunning };
  });
}
