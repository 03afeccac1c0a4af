/**
 * A frozen plan a model wrote runs on a schedule only as a person approved
 * it: the schedule keeps the hash of its target to approve and the hash
 * approved, and runs only while both equal the hash of the target it holds
 * now. The same rule for every store (sqlite/schedules.ts, postgres/schedules.ts).
 */
import { contentHash } from "../core/hash.ts";
import type { ScheduleRecord } from "./types.ts";

export { contentHash };

export function scheduleApproved(schedule: ScheduleRecord): boolean {
  return schedule.approvalHash === null || (schedule.approvedHash === schedule.approvalHash && contentHash(schedule.target) === schedule.approvalHash);
}

/** Why an unapproved schedule cannot run, and what to do; `pendingGateId` is its gate still waiting, if any. */
export function unapprovedReason(schedule: ScheduleRecord, pendingGateId: string | null): string {
  if (contentHash(schedule.target) !== schedule.approvalHash) return "its frozen plan is not the one that was approved; add the schedule again to have it approved";
  return pendingGateId
    ? `its frozen plan waits for a person at gate ${pendingGateId}: farcaster gates, then farcaster approve ${pendingGateId}`
    : "its frozen plan was rejected; add the schedule again to have a new plan approved";
}
