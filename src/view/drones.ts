/**
 * The drones as rows: who they are (host and pid from the default id
 * `host:pid:…`), what they hold, when they last heartbeat, and a warning on
 * a lease that is about to expire or has expired without being reclaimed.
 */
import type { DroneRecord, HeldLease } from "../store/types.ts";

export type LeaseWarning = "expired" | "expiring";

export interface LeaseRow {
  taskId: number;
  runId: string;
  key: string;
  /** Negative once expired. */
  leftMs: number;
  warning: LeaseWarning | null;
}

export interface DroneRow {
  id: string;
  host: string;
  pid: string;
  held: number;
  heartbeatAgoMs: number;
  leases: LeaseRow[];
  /** The worst of its leases' warnings. */
  warning: LeaseWarning | null;
}

/** Host and pid out of a drone id `host:pid:…`; empty strings for an id of another shape (`--id NAME`). */
export function parseDroneId(id: string): { host: string; pid: string } {
  const [host, pid] = id.split(":");
  return host && pid && /^\d+$/.test(pid) ? { host, pid } : { host: "", pid: "" };
}

/**
 * A heartbeat renews a lease to its full length about every third of it, so
 * a healthy lease never has less than about two thirds left. Less than half
 * left means a heartbeat is overdue: the drone may be stuck or gone.
 */
export function leaseWarning(lease: Pick<HeldLease, "leaseExpiresAt" | "heartbeatAt">, now: number): LeaseWarning | null {
  const left = lease.leaseExpiresAt - now;
  if (left <= 0) return "expired";
  return left < (lease.leaseExpiresAt - lease.heartbeatAt) / 2 ? "expiring" : null;
}

export function droneRows(drones: readonly DroneRecord[], now: number): DroneRow[] {
  return drones.map((drone) => {
    const leases = drone.leases.map((lease) => ({ taskId: lease.taskId, runId: lease.runId, key: lease.key, leftMs: lease.leaseExpiresAt - now, warning: leaseWarning(lease, now) }));
    const warning = leases.some((l) => l.warning === "expired") ? "expired" : leases.some((l) => l.warning === "expiring") ? "expiring" : null;
    return { id: drone.id, ...parseDroneId(drone.id), held: leases.length, heartbeatAgoMs: now - drone.lastHeartbeatAt, leases, warning };
  });
}
