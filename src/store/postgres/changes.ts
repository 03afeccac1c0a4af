/**
 * Knowing when the database changed, for idle drones and followers
 * (src/store/follow.ts). Changes are counted, as in the SQLite store:
 *
 * - a commit of this store counts at once;
 * - LISTEN: a batch that made tasks ready (enqueued, unblocked, woken,
 *   decided, signalled) sends one NOTIFY on the schema's channel, never one
 *   per step (a NOTIFY takes a database-wide lock at commit). Idle drones on
 *   other machines wake on it;
 * - polling, for followers only: events and output appended elsewhere send
 *   no NOTIFY, so while a follower waits the feed reads the highest event
 *   and log ids every CHANGE_POLL_MS (two index lookups) and counts a change
 *   when they moved. Drones do not poll: they sleep until their next due
 *   time, a NOTIFY, or their idle limit.
 *
 * The listening connection is opened by the first wait (a command that never
 * waits never opens it) and is watched: every PROBE_INTERVAL_MS the feed
 * NOTIFYs itself, and a probe that does not come back within
 * PROBE_TIMEOUT_MS means the listener is gone without anyone saying so (a
 * backend terminated, a connection cut): it is replaced by a new one. Each
 * time a listener is (re)subscribed the feed counts a change, so waiters read
 * again and catch up on notifications sent while nobody listened.
 */
import type { SQL } from "bun";
import { q } from "./sqlText.ts";

export const CHANGE_POLL_MS = 50;
export const PROBE_INTERVAL_MS = 2_000;
export const PROBE_TIMEOUT_MS = 1_000;

export interface ChangeFeedOptions {
  /** The store's pool, for polling and probes. */
  pool: () => SQL;
  /** A new client for the listening connection (each listener gets its own, so a broken one can be closed whole). */
  connectListener: () => SQL;
  channel: string;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
}

interface Waiter {
  done: () => void;
  poll: boolean;
}

interface Listener {
  sql: SQL;
  unlisten: () => Promise<void>;
}

export class PgChangeFeed {
  private changes = 0;
  private readonly waiters = new Set<Waiter>();
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSeen: string | null = null;
  private listener: Listener | null = null;
  private starting: Promise<void> | null = null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private probeSent = 0;
  private probeAnswered = 0;
  private probeSentAt = 0;
  private readonly instance = Math.random().toString(36).slice(2, 10);
  private closed = false;
  /** Listeners opened so far (tests watch it come back). */
  restarts = 0;

  constructor(private readonly options: ChangeFeedOptions) {}

  /** The count of changes seen so far; pass it to wait() after reading. */
  token(): number {
    return this.changes;
  }

  /** A commit of this store. */
  committed(): void {
    this.bump();
  }

  /**
   * Resolves when there were changes since `since`, when `signal` aborts, or
   * after `maxWaitMs`. `poll`: also look for rows appended by others (followers).
   */
  wait(since: number, signal: AbortSignal | undefined, maxWaitMs: number, poll: boolean): Promise<void> {
    if (this.closed || signal?.aborted || this.changes !== since) return Promise.resolve();
    this.ensureListener();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        poll,
        done: () => {
          clearTimeout(timeout);
          signal?.removeEventListener("abort", waiter.done);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timeout = setTimeout(waiter.done, maxWaitMs);
      signal?.addEventListener("abort", waiter.done, { once: true });
      this.waiters.add(waiter);
      if (poll) this.schedulePoll();
    });
  }

  private bump(): void {
    this.changes++;
    for (const waiter of [...this.waiters]) waiter.done();
  }

  // --- polling (followers) ---

  private schedulePoll(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), CHANGE_POLL_MS);
  }

  private async poll(): Promise<void> {
    try {
      const [row] = await q<{ e: string | null; l: string | null }>(this.options.pool(), "SELECT (SELECT max(id) FROM events) AS e, (SELECT max(id) FROM task_logs) AS l");
      const seen = `${row?.e}:${row?.l}`;
      // The first look has nothing to compare with: count it as a change (a spurious wake is harmless, a missed one is not).
      if (seen !== this.lastSeen) {
        this.lastSeen = seen;
        this.bump();
      }
    } catch {
      this.bump(); // closed or failing: let the waiters find out on their next read
    } finally {
      this.pollTimer = null;
      if ([...this.waiters].some((w) => w.poll)) this.schedulePoll();
    }
  }

  // --- the listener ---

  private ensureListener(): void {
    if (this.listener || this.starting || this.closed) return;
    this.starting = this.startListener().finally(() => (this.starting = null));
    this.probeTimer ??= setInterval(() => void this.probe(), this.options.probeIntervalMs ?? PROBE_INTERVAL_MS);
    this.probeTimer.unref?.();
  }

  private async startListener(): Promise<void> {
    const sql = this.options.connectListener();
    try {
      const subscription = await sql.listen(this.options.channel, (payload) => this.notified(payload), () => {
        // Initially and after every reconnect Bun makes itself: notifications may have been missed meanwhile.
        this.restarts++;
        this.bump();
      });
      if (this.closed) {
        await closeQuietly(sql);
        return;
      }
      this.listener = { sql, unlisten: () => subscription.unlisten() };
      this.probeAnswered = this.probeSent; // a fresh listener owes no probe
    } catch {
      await closeQuietly(sql); // the next probe tries again
    }
  }

  private notified(payload: string): void {
    if (payload.startsWith("probe:")) {
      const [, instance, n] = payload.split(":");
      if (instance === this.instance) this.probeAnswered = Math.max(this.probeAnswered, Number(n));
      return;
    }
    this.bump();
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    if (!this.listener) {
      this.ensureListener();
      return;
    }
    if (this.probeAnswered < this.probeSent && performance.now() - this.probeSentAt >= (this.options.probeTimeoutMs ?? PROBE_TIMEOUT_MS)) {
      // The last probe never came back: the listener is deaf. Replace it.
      const dead = this.listener;
      this.listener = null;
      void closeQuietly(dead.sql);
      this.ensureListener();
      return;
    }
    if (this.probeAnswered < this.probeSent) return; // still within its time
    const n = ++this.probeSent;
    this.probeSentAt = performance.now();
    try {
      await q(this.options.pool(), "SELECT pg_notify($1, $2)", [this.options.channel, `probe:${this.instance}:${n}`]);
    } catch {
      this.probeAnswered = n; // the server is unreachable: that says nothing about the listener
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.pollTimer = null;
    this.probeTimer = null;
    for (const waiter of [...this.waiters]) waiter.done();
    await this.starting;
    const listener = this.listener;
    this.listener = null;
    if (listener) {
      await Promise.race([listener.unlisten().catch(() => {}), Bun.sleep(500)]);
      await closeQuietly(listener.sql);
    }
  }
}

async function closeQuietly(sql: SQL): Promise<void> {
  try {
    await sql.close({ timeout: 0 });
  } catch {
    // already closed or broken
  }
}
