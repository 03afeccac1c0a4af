/**
 * Fair acquisition of SQLite's write lock across processes.
 *
 * SQLite's own busy handler sleeps 1, 2, 5 … up to 100 ms between tries, so a
 * process in a tight claim/complete loop takes the lock again right after each
 * commit while the others sleep: we measured one of four processes getting a
 * third of its share and waiting 830 ms for the lock. Instead, with
 * busy_timeout=0, we retry BEGIN IMMEDIATE ourselves: first a few immediate
 * retries (the lock is usually held for tens of microseconds; note that
 * Bun.sleepSync(0) returns at once rather than yielding the CPU), then
 * jittered async sleeps that keep the event loop (and so heartbeats) running
 * (Bun.sleep truncates to whole milliseconds, so a sleep is either a bare
 * event-loop turn or 1 ms).
 *
 * Measured with 4 processes on 2 cores (bench/store.ts reports it), every
 * process got at least half of its fair share, but not the tight 0.85–1.15x
 * band an earlier note claimed: the lowest share seen is 0.66x (usually
 * 0.8–1.2x). Worst claim waits were 40–60 ms, and 165 ms in one run of five,
 * before the checkpoint thread; with it they are 100–190 ms in most runs, as
 * WAL restarts hold the writer lock for a few ms and pause the restarting
 * process's own writes (see checkpoints.ts). The targets are ≥ 0.5x and < 250 ms.
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
 * Runs `body` inside BEGIN IMMEDIATE … COMMIT, retrying BEGIN while another
 * process holds the write lock, for at most `timeoutMs`.
 *
 * BEGIN, the body and COMMIT run in one synchronous stretch: there must be no
 * `await` between them, or another async write of this same process could
 * run on the connection inside our transaction.
 */
export async function writeTransaction<T>(tx: TransactionStatements, body: () => T, timeoutMs: number): Promise<T> {
  let tries = 0;
  let started = 0;
  for (;;) {
    let began = false;
    try {
      tx.begin();
      began = true;
    } catch (error) {
      if (!isBusyError(error)) throw error;
    }
    if (began) {
      try {
        const result = body();
        tx.commit();
        return result;
      } catch (error) {
        if (tx.inTransaction()) tx.rollback();
        throw error;
      }
    }
    tries++;
    if (tries === 1) started = performance.now();
    else if (performance.now() - started > timeoutMs) throw new StoreBusyError(performance.now() - started);
    if (tries <= YIELDS_BEFORE_SLEEPING) Bun.sleepSync(0);
    else await Bun.sleep(Math.random() * MAX_SLEEP_MS);
  }
}
