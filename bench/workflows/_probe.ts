/**
 * High-resolution marks the bench workflows leave for bench/drone-worker.ts,
 * which runs them in its own process (the leading "_" keeps loadWorkflowDir
 * from loading this file as a workflow). Times are epoch milliseconds with
 * sub-millisecond precision, comparable across processes of one machine.
 */

export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface LoopMark {
  taskId: number;
  steps: number;
  /** From before the first ctx.step to after the last one. */
  ms: number;
}

export const probe = {
  /** When a task's first step function began running, by task id (the latest attempt wins). */
  firstStep: new Map<number, number>(),
  /** One per finished bench-noop task whose input asked for it. */
  loops: [] as LoopMark[],
};

/** Resolves after `ms`, or rejects with the signal's reason when the attempt is aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
