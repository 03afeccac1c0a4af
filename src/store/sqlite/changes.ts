/**
 * Knowing when the database changed, for followers (src/store/follow.ts) and
 * idle drones. Changes are counted: a commit of this store counts at once;
 * commits of other connections (other processes) show in `PRAGMA
 * data_version`, which moves only when another connection committed and
 * costs a few microseconds, so it is read whenever someone asks for a token
 * and every POLL_MS while someone waits.
 *
 * A waiter passes the token it took before it read: a change that came
 * between its read and its wait then ends the wait at once instead of being
 * missed until the fallback poll.
 */
import type { Database } from "bun:sqlite";
import { sql } from "./statements.ts";

export const CHANGE_POLL_MS = 50;

export class ChangeFeed {
  private readonly waiters = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private changes = 0;
  private version: number;
  private readonly dataVersion: () => number;

  constructor(db: Database) {
    // From the store's statement cache, so the store's close finalizes it.
    this.dataVersion = () => sql<{ data_version: number }, []>(db, "PRAGMA data_version").get()!.data_version;
    this.version = this.dataVersion();
  }

  /** The count of changes seen so far; pass it to wait() after reading. */
  token(): number {
    this.poll();
    return this.changes;
  }

  /** A commit of this store's own connection. */
  committed(): void {
    this.changes++;
    this.wakeAll();
  }

  /** Resolves when there were changes since `since`, when `signal` aborts, or after `maxWaitMs`. */
  wait(since: number, signal: AbortSignal | undefined, maxWaitMs: number): Promise<void> {
    if (signal?.aborted || this.token() !== since) return Promise.resolve();
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
      this.timer ??= setInterval(() => this.poll(), CHANGE_POLL_MS);
    });
  }

  private poll(): void {
    let now: number;
    try {
      now = this.dataVersion();
    } catch {
      this.changes++; // closed or failing: let the waiters find out on their next read
      return this.wakeAll();
    }
    if (now !== this.version) {
      this.version = now;
      this.changes++;
      this.wakeAll();
    }
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
