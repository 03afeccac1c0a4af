/**
 * Following an append-only table (events, task logs) as an async iterator:
 * read what is after the cursor, yield it, and when caught up wait for the
 * store to say something changed (SQLite: a local commit or PRAGMA
 * data_version; PostgreSQL: NOTIFY), with polling as the fallback. One
 * implementation serves the live view, the SSE stream, `logs --follow` and
 * the dashboard; each store only provides `waitForChange`.
 */

export interface FollowOptions {
  /** Start after this id (0: from the beginning). */
  after?: number;
  /** Stops the iterator (it returns; it does not throw). */
  signal?: AbortSignal;
  /**
   * Checked each time the iterator has caught up: once it answers true, what
   * is left is read and the iterator ends. It is asked before that last read,
   * so nothing written before the condition became true is missed.
   */
  until?: () => boolean | Promise<boolean>;
  /** Rows per read (default 500). */
  batch?: number;
}

/**
 * How a store tells of changes: `token()` before a read, then `wait(token)`
 * resolves at once if something changed since, else when something does,
 * when `signal` aborts, or after `maxWaitMs` at the latest.
 */
export interface ChangeSource {
  token(): number;
  wait(since: number, signal: AbortSignal | undefined, maxWaitMs: number): Promise<void>;
}

/** The longest a follower waits before it reads again even without a change signal. */
export const FOLLOW_FALLBACK_MS = 1_000;

export async function* follow<T extends { id: number }>(
  read: (after: number, limit: number) => Promise<T[]>,
  changes: ChangeSource,
  options: FollowOptions = {},
): AsyncGenerator<T, void, undefined> {
  let cursor = options.after ?? 0;
  const limit = options.batch ?? 500;
  const { signal, until } = options;
  for (;;) {
    if (signal?.aborted) return;
    const last = until ? await until() : false;
    const since = changes.token();
    const rows = await read(cursor, limit);
    for (const row of rows) {
      cursor = row.id;
      yield row;
      if (signal?.aborted) return;
    }
    if (rows.length === limit) continue; // more is waiting
    if (last) return;
    await changes.wait(since, signal, FOLLOW_FALLBACK_MS);
  }
}
