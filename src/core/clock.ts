/**
 * Time is injected: every store call takes its "now" from a Clock, so tests
 * move time instead of sleeping. Times are Unix epoch milliseconds.
 */
import { MAX_TIMER_MS, setLongInterval } from "./timers.ts";

export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A clock that only moves when told to; for tests and simulations. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/**
 * Repeating timers, injected like the clock: the engine's heartbeats use one,
 * so a test can fire a beat and await it instead of sleeping past an interval.
 */
export interface Ticker {
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => unknown): () => void;
}

export const realTicker: Ticker = Object.freeze({
  every(ms: number, fn: () => unknown) {
    if (ms > MAX_TIMER_MS) return setLongInterval(() => void fn(), ms); // a heartbeat of a lease of months
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
});

/** A ticker that only fires when told to; `tick()` resolves once every callback's work is done. */
export class ManualTicker implements Ticker {
  private readonly callbacks = new Set<{ ms: number; fn: () => unknown }>();

  every(ms: number, fn: () => unknown): () => void {
    const entry = { ms, fn };
    this.callbacks.add(entry);
    return () => this.callbacks.delete(entry);
  }

  /** The intervals registered and not cancelled. */
  get intervals(): number[] {
    return [...this.callbacks].map((entry) => entry.ms);
  }

  async tick(): Promise<void> {
    await Promise.all([...this.callbacks].map((entry) => entry.fn()));
  }
}
