/**
 * When a store's claim runs its upkeep (reclaiming expired leases, sweeping
 * gate timeouts, waking sleepers): both stores follow the same rule, and
 * sqlite/upkeep.ts says why. The upkeep is due once UPKEEP_INTERVAL_MS have
 * passed on the store's clock since the last pass (or the clock went back),
 * and at once again after a pass that hit its batch bound, so a backlog
 * drains one bounded batch per claim. A claim that asks for nothing, or
 * comes back short, runs it whatever this says.
 */
export const UPKEEP_INTERVAL_MS = 200;

export class UpkeepSchedule {
  private lastRun = Number.NEGATIVE_INFINITY;

  due(now: number): boolean {
    return now - this.lastRun >= UPKEEP_INTERVAL_MS || now < this.lastRun;
  }

  /** A pass ran at `now`; `backlog`: it hit a batch bound, so the next claim runs it again. */
  ran(now: number, backlog: boolean): void {
    this.lastRun = backlog ? Number.NEGATIVE_INFINITY : now;
  }
}
