/**
 * Keeps one attempt's lease alive from outside the workflow's code: a timer
 * renews it about every third of the lease. A renewal refused by the fence
 * means the lease is lost; renewals that keep failing for a whole lease
 * (database unreachable, process starved) are treated the same way, since by
 * then another drone may rightfully hold the task.
 */
import { realTicker, type Clock, type Ticker } from "../core/clock.ts";
import { LeaseLostError } from "../core/errors.ts";
import type { Store } from "../store/types.ts";

export interface Heartbeat {
  stop(): void;
}

export interface HeartbeatOptions {
  store: Store;
  clock: Clock;
  taskId: number;
  attemptId: number;
  leaseMs: number;
  /** Called once, when the lease is known or presumed lost. */
  onLost(error: Error): void;
  /** Renew right away (the workflow's lease differs from the claim's). */
  renewNow?: boolean;
  /** Fires the beats (tests drive it by hand). */
  ticker?: Ticker;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { store, clock, taskId, attemptId, leaseMs } = options;
  let lastRenewed = clock.now();
  let inFlight = false;
  let stopped = false;

  const beat = async (): Promise<void> => {
    if (stopped || inFlight) return;
    inFlight = true;
    try {
      await store.extendLease(taskId, attemptId, leaseMs);
      lastRenewed = clock.now();
    } catch (error) {
      if (stopped) return;
      if (error instanceof LeaseLostError) lose(error);
      else if (clock.now() - lastRenewed >= leaseMs) {
        lose(new LeaseLostError(taskId, attemptId, `heartbeats failing for a whole lease (${(error as Error).message})`));
      }
    } finally {
      inFlight = false;
    }
  };
  const lose = (error: Error) => {
    if (stopped) return;
    stop();
    options.onLost(error);
  };
  const cancel = (options.ticker ?? realTicker).every(Math.max(10, Math.floor(leaseMs / 3)), beat);
  const stop = () => {
    stopped = true;
    cancel();
  };
  if (options.renewNow) void beat();
  return { stop };
}
