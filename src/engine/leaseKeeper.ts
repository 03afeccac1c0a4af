/**
 * A drone's heartbeat: one timer and one store call renew every lease the
 * drone holds, each by its own length, about every third of the shortest.
 * Outside workflow code, so a busy or stuck workflow cannot starve it.
 *
 * A renewal the fence refuses means that lease is lost (reclaimed, the task
 * cancelled): its attempt is told at once. Renewals that keep failing for a
 * whole lease (database unreachable, process starved) count as lost too,
 * since by then another drone may rightfully hold the task.
 */
import { realTicker, type Clock, type Ticker } from "../core/clock.ts";
import { LeaseLostError } from "../core/errors.ts";
import { setLongTimeout } from "../core/timers.ts";
import type { LeaseRenewal, Store } from "../store/types.ts";

/** The shortest interval between beats, however short a lease (tests use tens of ms). */
const MIN_BEAT_MS = 10;

interface Held extends LeaseRenewal {
  renewedAt: number;
  onLost: (error: Error) => void;
}

export interface LeaseKeeperOptions {
  store: Store;
  clock: Clock;
  worker: string;
  ticker?: Ticker;
}

export class LeaseKeeper {
  private readonly held = new Map<number, Held>();
  /** How many held leases have each length: the beat follows the shortest without walking every lease. */
  private readonly lengths = new Map<number, number>();
  private readonly ticker: Ticker;
  private cancel: (() => void) | null = null;
  private intervalMs = 0;
  private beating: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.ticker = options.ticker ?? realTicker;
  }

  /**
   * Keeps a lease until the returned function is called. `renewNow`: renew
   * it at the next turn rather than a third of a lease from now (the
   * workflow's lease is not the one the claim took).
   */
  hold(lease: LeaseRenewal, onLost: (error: Error) => void, renewNow = false): () => void {
    const previous = this.held.get(lease.attemptId);
    if (previous) this.forget(previous);
    const held: Held = { taskId: lease.taskId, attemptId: lease.attemptId, leaseMs: lease.leaseMs, renewedAt: this.options.clock.now(), onLost };
    this.held.set(lease.attemptId, held);
    this.lengths.set(held.leaseMs, (this.lengths.get(held.leaseMs) ?? 0) + 1);
    this.rearm();
    if (renewNow) queueMicrotask(() => void this.beat());
    return () => {
      if (this.held.get(lease.attemptId) === held) {
        this.forget(held);
        this.rearm();
      }
    };
  }

  get size(): number {
    return this.held.size;
  }

  /** Renews every lease held now; resolves when that renewal has been answered. */
  beat(): Promise<void> {
    if (this.beating) {
      this.again = true; // a lease joined during the beat in flight
      return this.beating;
    }
    this.beating = this.renew().finally(() => {
      this.beating = null;
      if (this.again) {
        this.again = false;
        void this.beat();
      }
    });
    return this.beating;
  }

  private async renew(): Promise<void> {
    const leases = [...this.held.values()];
    if (leases.length === 0) return;
    const { store, clock, worker } = this.options;
    let lost: Set<number>;
    // A renewal that hangs (a partition that drops packets rather than refusing them) counts as failing:
    // once it has hung for a whole lease, every lease it carries that went unrenewed that long is lost.
    const shortest = Math.min(...leases.map((lease) => lease.leaseMs));
    const cancelWatchdog = setLongTimeout(() => {
      const now = clock.now();
      for (const lease of leases) {
        if (now - lease.renewedAt >= lease.leaseMs) this.lose(lease, new LeaseLostError(lease.taskId, lease.attemptId, `a heartbeat that hung for a whole lease (${lease.leaseMs} ms)`));
      }
    }, shortest);
    try {
      lost = new Set(await store.renewLeases(worker, leases.map(({ taskId, attemptId, leaseMs }) => ({ taskId, attemptId, leaseMs }))));
    } catch (error) {
      const now = clock.now();
      for (const lease of leases) {
        if (now - lease.renewedAt >= lease.leaseMs) {
          this.lose(lease, new LeaseLostError(lease.taskId, lease.attemptId, `heartbeats failing for a whole lease (${(error as Error).message})`));
        }
      }
      return;
    } finally {
      cancelWatchdog();
    }
    const now = clock.now();
    for (const lease of leases) {
      if (lost.has(lease.attemptId)) this.lose(lease, new LeaseLostError(lease.taskId, lease.attemptId, "the heartbeat"));
      else lease.renewedAt = now;
    }
  }

  private lose(lease: Held, error: Error): void {
    if (this.held.get(lease.attemptId) !== lease) return; // released meanwhile
    this.forget(lease);
    this.rearm();
    lease.onLost(error);
  }

  private forget(lease: Held): void {
    this.held.delete(lease.attemptId);
    const count = (this.lengths.get(lease.leaseMs) ?? 0) - 1;
    if (count > 0) this.lengths.set(lease.leaseMs, count);
    else this.lengths.delete(lease.leaseMs);
  }

  /** One timer at a third of the shortest lease held; none while nothing is held. */
  private rearm(): void {
    let shortest = Infinity;
    for (const length of this.lengths.keys()) shortest = Math.min(shortest, length);
    const interval = shortest === Infinity ? 0 : Math.max(MIN_BEAT_MS, Math.floor(shortest / 3));
    if (interval === this.intervalMs) return;
    this.cancel?.();
    this.cancel = interval === 0 ? null : this.ticker.every(interval, () => this.beat());
    this.intervalMs = interval;
  }

  /** Stops the timer; leases still held are left to expire (the drone releases them first). */
  stop(): void {
    this.held.clear();
    this.lengths.clear();
    this.rearm();
  }
}
