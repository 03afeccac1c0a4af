/**
 * Retry delay: exponential with "full jitter" (AWS architecture blog), so a
 * wave of tasks that failed together does not retry in lock-step.
 * delay = random(0.5 .. 1.0) * min(max, base * 2^(attempt-1))
 * Half of the delay is kept fixed so a retry never fires immediately.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1_000, maxMs: 5 * 60_000 });

export function retryDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 30));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}
