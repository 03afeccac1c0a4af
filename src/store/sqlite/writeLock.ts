/**
 * Fair acquisition of SQLite's write lock across processes.
 *
 * SQLite's own busy handler sleeps 1, 2, 5 … up to 100 ms between tries, so a
 * process in a tight claim/complete loop takes the lock again right after each
 * commit while the others sleep: we measured one of four processes getting a
 * small share of the commits and waiting the better part of a second. Instead, with
 * busy_timeout=0, we retry BEGIN IMMEDIATE ourselves: first a few immediate
 * retries (the lock is usually held for tens of microseconds; note that
 * Bun.sleepSync(0) returns at once rather than yielding the CPU), then
 * jittered async sleeps that keep the event loop (and so heartbeats) running
 * (Bun.sleep truncates to whole milliseconds, so a sleep is either a bare
 * event-loop turn or 1 ms).
 *
 * With group commit (writer.ts) each process takes the lock once per batch,
 * and writes queued while it waits join that batch. bench/store.ts reports
 * the share each of several processes gets and the longest wait.
 */
import { StoreBusyError } from "../../core/errors.ts";

const YIELDS_BEFORE_SLEEPING = 10;
const MAX_SLEEP_MS = 2;

/**
 * SQLITE_BUSY and its extended codes (bun:sqlite reports extended codes):
 * BUSY_RECOVERY while another connection rebuilds a crashed writer's WAL
 * index, BUSY_SNAPSHOT, BUSY_TIMEOUT; and SQLITE_LOCKED (a shared cache).
 */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED" || code.startsWith("SQLITE_LOCKED_"));
}

/**
 * Runs `fn`, again while it fails with SQLITE_BUSY, for at most `timeoutMs`,
 * with the waits described above; then StoreBusyError naming `what`. `fn`
 * must be safe to repeat: a read, or a statement that took effect only if it
 * did not throw (BEGIN IMMEDIATE, a PRAGMA, an autocommit statement).
 */
export async function retryWhileBusy<T>(fn: () => T, timeoutMs: number, what?: string): Promise<T> {
  let tries = 0;
  let started = 0;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      if (!isBusyError(error)) throw error;
      tries++;
      if (tries === 1) started = performance.now();
      else if (performance.now() - started > timeoutMs) throw new StoreBusyError(performance.now() - started, what, error);
    }
    if (tries <= YIELDS_BEFORE_SLEEPING) Bun.sleepSync(0);
    else await Bun.sleep(Math.random() * MAX_SLEEP_MS);
  }
}

/**
 * The same retry for code that cannot await: opening a database (a store's
 * constructor). It blocks the thread between tries, which is fine before the
 * store exists: nothing of it can run meanwhile. `deadline` is shared by the
 * steps of one open, so the bound holds for the whole of it.
 */
export function retryWhileBusySync<T>(fn: () => T, deadline: BusyDeadline): T {
  let tries = 0;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      if (!isBusyError(error)) throw error;
      tries++;
      const waited = performance.now() - deadline.started;
      if (waited > deadline.timeoutMs) throw new StoreBusyError(waited, deadline.what, error);
    }
    // Bun.sleepSync truncates to whole milliseconds: a jittered 0-2 ms wait, after a few bare retries.
    Bun.sleepSync(tries <= YIELDS_BEFORE_SLEEPING ? 0 : Math.random() * (MAX_SLEEP_MS + 1));
  }
}

export interface BusyDeadline {
  readonly started: number;
  readonly timeoutMs: number;
  readonly what: string;
}

export function busyDeadline(timeoutMs: number, what: string): BusyDeadline {
  return { started: performance.now(), timeoutMs, what };
}

export interface TransactionStatements {
  begin(): void;
  commit(): void;
  rollback(): void;
  inTransaction(): boolean;
}

/**
 * Takes the write lock: BEGIN IMMEDIATE, retried while another process holds
 * the lock, for at most `timeoutMs`. The caller runs its body and COMMITs in
 * one synchronous stretch after this resolves: no `await` in between, or
 * another async write of this process could run inside the transaction.
 */
export function acquireWriteLock(begin: () => void, timeoutMs: number): Promise<void> {
  return retryWhileBusy(begin, timeoutMs);
}

/** BEGIN IMMEDIATE (fairly, as acquireWriteLock), `body`, COMMIT; ROLLBACK if the body throws. */
export async function writeTransaction<T>(tx: TransactionStatements, body: () => T, timeoutMs: number): Promise<T> {
  await acquireWriteLock(tx.begin, timeoutMs);
  try {
    const result = body();
    tx.commit();
    return result;
  } catch (error) {
    if (tx.inTransaction()) tx.rollback();
    throw error;
  }
}
