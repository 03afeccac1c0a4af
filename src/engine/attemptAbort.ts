/**
 * An attempt's abort switch: the drone (shutdown), the heartbeat (lease
 * lost) and the timeout pull it; the workflow sees it as `ctx.signal`.
 *
 * Most attempts end without being aborted. The AbortController behind the
 * signal is made on the signal's first read, and the attempt's own race
 * against an abort is a callback rather than an "abort" listener: in a
 * worker's CPU profile of 20,000 one-step tasks, the controller made per
 * attempt and the listener added to it were 5% and 4.5% of the process.
 */
export class AttemptAbort {
  private controller: AbortController | null = null;
  private why: unknown = undefined;
  private pulled = false;
  private readonly waiters: ((reason: unknown) => void)[] = [];

  get aborted(): boolean {
    return this.pulled;
  }

  /** What `abort` was given (undefined until then). */
  get reason(): unknown {
    return this.why;
  }

  /** The AbortSignal of the attempt, aborted with the same reason once the switch is pulled. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.pulled) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  /** Pulls the switch; the first reason wins, later calls do nothing. */
  abort(reason: unknown): void {
    if (this.pulled) return;
    this.pulled = true;
    this.why = reason;
    this.controller?.abort(reason);
    for (const waiter of this.waiters.splice(0)) waiter(reason);
  }

  /** A promise that rejects with the reason once the switch is pulled (at once if it was). */
  rejection(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.pulled) reject(this.why);
      else this.waiters.push(reject);
    });
  }
}
