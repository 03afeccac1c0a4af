/**
 * The claim's upkeep on PostgreSQL: reclaiming expired leases, sweeping gate
 * timeouts and waking sleepers, when due (src/store/upkeepSchedule.ts; the
 * SQLite store's upkeep.ts says why it is not run on every claim).
 */
import { UpkeepSchedule } from "../upkeepSchedule.ts";
import type { TxContext } from "./context.ts";
import { sweepGateTimeouts, GATE_SWEEP_BATCH } from "./gates.ts";
import { reclaimExpired, wakeSleepers, RECLAIM_BATCH } from "./leases.ts";

export class Upkeep {
  private readonly schedule = new UpkeepSchedule();
  /** A claim of another write lane is running it: the others skip it rather than scan the same rows at once. */
  private running = false;

  constructor(private readonly policy: { recoveryLimit: number }) {}

  due(now: number): boolean {
    return !this.running && this.schedule.due(now);
  }

  /** Runs the three passes; returns how many tasks and gates they changed (0 when another lane's claim is running them). */
  async run(ctx: TxContext, actor: string): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const reclaimed = await reclaimExpired(ctx, actor, this.policy);
      const swept = await sweepGateTimeouts(ctx, actor);
      const woken = await wakeSleepers(ctx);
      this.schedule.ran(ctx.now, reclaimed >= RECLAIM_BATCH || swept >= GATE_SWEEP_BATCH);
      return reclaimed + swept + woken;
    } finally {
      this.running = false;
    }
  }
}
