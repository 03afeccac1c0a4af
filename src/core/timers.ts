/**
 * Timers for durations people write. setTimeout and setInterval hold a delay
 * of at most 2^31-1 ms (about 24.8 days): past that the runtime fires them at
 * once (a `timeout: 30d` task would time out immediately). A long timer is
 * armed in chunks of at most that much, re-armed until its whole delay has
 * passed. Every timer fed by a user's duration (task timeouts, heartbeat
 * intervals, lease watchdogs, the grace period) goes through here.
 */

/** The longest delay the runtime's timers hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The runtime's one-shot timers; tests pass their own. */
export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const runtimeTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Calls `fn` once after `ms`, however long; returns a function that cancels it. */
export function setLongTimeout(fn: () => void, ms: number, timers: TimerApi = runtimeTimers): () => void {
  if (ms <= MAX_TIMER_MS) {
    // The usual case (every attempt's timeout, every heartbeat): one timer, no re-arming.
    const handle = timers.setTimeout(fn, Math.max(0, ms));
    return () => timers.clearTimeout(handle);
  }
  let remaining = Math.max(0, ms);
  let handle: unknown;
  let cancelled = false;
  const arm = () => {
    const chunk = Math.min(remaining, MAX_TIMER_MS);
    handle = timers.setTimeout(() => {
      if (cancelled) return;
      remaining -= chunk;
      if (remaining > 0) arm();
      else fn();
    }, chunk);
  };
  arm();
  return () => {
    cancelled = true;
    timers.clearTimeout(handle);
  };
}

/** Calls `fn` every `ms`, however long; returns a function that stops it. */
export function setLongInterval(fn: () => void, ms: number, timers: TimerApi = runtimeTimers): () => void {
  let cancel = () => {};
  let stopped = false;
  const next = () => {
    cancel = setLongTimeout(() => {
      if (stopped) return;
      next(); // armed before fn runs, as setInterval does: a slow fn does not stretch the period
      fn();
    }, ms, timers);
  };
  next();
  return () => {
    stopped = true;
    cancel();
  };
}
