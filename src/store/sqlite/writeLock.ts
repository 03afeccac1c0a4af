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

export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_BUSY_SNAPSHOT" || code === "SQLITE_LOCKED";
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
export async function acquireWriteLock(begin: () => void, timeoutMs: number): Promise<void> {
  let tries = 0;
  let started = 0;
  for (;;) {
    try {
      begin();
      return;
    } catch (error) {
      if (!isBusyError(error)) throw error;
    }
    tries++;
    if (tries === 1) started = performance.now();
    else if (performance.now() - started > timeoutMs) throw new StoreBusyError(performance.now() - started);
    if (tries <= YIELDS_BEFORE_SLEEPING) Bun.sleepSync(0);
    else await Bun.sleep(Math.random() * MAX_SLEEP_MS);
  }
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
