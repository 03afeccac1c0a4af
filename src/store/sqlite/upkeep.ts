/**
 * The claim's upkeep: reclaiming expired leases, sweeping gate timeouts and
 * waking sleepers. These three queries rarely find work, yet they cost
 * 65–100 µs per claim when profiled (of a ~700 µs claim→complete cycle then),
 * so a store instance runs them only when:
 *
 * - UPKEEP_INTERVAL_MS have passed on the store's clock since this instance
 *   last ran them (a later clock time: a test that advances a ManualClock sees
 *   its reclaim, wake-up or sweep at the next claim), or the clock went back;
 * - a claim came back short (nothing ready, or fewer tasks than asked): an
 *   idle worker picks up an expired or woken task at once, and the claim is
 *   retried when the upkeep changed anything;
 * - a claim asks for no task at all (limit 0): an explicit upkeep pass;
 * - the last pass hit its batch bound (RECLAIM_BATCH, GATE_SWEEP_BATCH): the
 *   backlog drains at one bounded batch per claim, as before.
 *
 * So a busy worker sees an expired lease at most UPKEEP_INTERVAL_MS later
 * than it did when every claim ran the upkeep; leases last seconds to minutes.
 */
import { sweepGateTimeouts, GATE_SWEEP_BATCH } from "./gates.ts";
import { reclaimExpired, wakeSleepers, RECLAIM_BATCH, type ClaimPolicy } from "./leases.ts";
import type { TxContext } from "./context.ts";
import { UpkeepSchedule } from "../upkeepSchedule.ts";

export { UPKEEP_INTERVAL_MS } from "../upkeepSchedule.ts";

export class Upkeep {
  private readonly schedule = new UpkeepSchedule();

  constructor(private readonly policy: ClaimPolicy) {}

  due(now: number): boolean {
    return this.schedule.due(now);
  }

  /** Runs the three passes; returns how many tasks and gates they changed. */
  run(ctx: TxContext, actor: string): number {
    const reclaimed = reclaimExpired(ctx, actor, this.policy);
    const swept = sweepGateTimeouts(ctx, actor);
    const woken = wakeSleepers(ctx);
    this.schedule.ran(ctx.now, reclaimed >= RECLAIM_BATCH || swept >= GATE_SWEEP_BATCH);
    return reclaimed + swept + woken;
  }
}
