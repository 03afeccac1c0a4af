/**
 * Knowing when the database changed, for followers (src/store/follow.ts).
 * A commit of this store wakes them at once. Commits of other connections
 * (other processes) show in `PRAGMA data_version`, which only moves when
 * another connection committed; it costs a few microseconds, so it is polled
 * every POLL_MS, and only while someone is waiting.
 */
import type { Database } from "bun:sqlite";
import { sql } from "./statements.ts";

export const CHANGE_POLL_MS = 50;

export class ChangeFeed {
  private readonly waiters = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private version: number;
  private readonly dataVersion: () => number;

  constructor(db: Database) {
    // From the store's statement cache, so the store's close finalizes it.
    this.dataVersion = () => sql<{ data_version: number }, []>(db, "PRAGMA data_version").get()!.data_version;
    this.version = this.dataVersion();
  }

  /** A commit of this store's own connection. */
  committed(): void {
    this.wakeAll();
  }

  wait(signal: AbortSignal | undefined, maxWaitMs: number): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timeout);
        signal?.removeEventListener("abort", done);
        this.waiters.delete(done);
        if (this.waiters.size === 0) this.stopPolling();
        resolve();
      };
      const timeout = setTimeout(done, maxWaitMs);
      signal?.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
      this.startPolling();
    });
  }

  private startPolling(): void {
    if (this.timer) return;
    this.version = this.dataVersion();
    this.timer = setInterval(() => {
      let now: number;
      try {
        now = this.dataVersion();
      } catch {
        return this.wakeAll(); // closed or failing: let the followers find out on their next read
      }
      if (now !== this.version) {
        this.version = now;
        this.wakeAll();
      }
    }, CHANGE_POLL_MS);
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  close(): void {
    this.wakeAll();
    this.stopPolling();
  }
}
