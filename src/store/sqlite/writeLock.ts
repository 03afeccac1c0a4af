/**
 * Fair acquisition of SQLite's write lock across processes.
 *
 * SQLite's own busy handler sleeps 1, 2, 5 … up to 100 ms between tries, so a
 * process in a tight claim/complete loop takes the lock again right after each
 * commit while the others sleep: we measured one of four processes getting a
 * third of its share and waiting 830 ms for the lock. Instead, with
 * busy_timeout=0, we retry BEGIN IMMEDIATE ourselves: first a few immediate
 * yields of the CPU (the lock is usually held for tens of microseconds), then
 * short jittered async sleeps that keep the event loop (and so heartbeats)
 * running. Measured with 4 processes: every process within 0.85–1.15x of its
 * fair share, worst wait about 40 ms (bench/store.ts reports it).
 */
import { FarcasterError } from "../../core/errors.ts";

const YIELDS_BEFORE_SLEEPING = 10;
const MAX_SLEEP_MS = 2;

export class StoreBusyError extends FarcasterError {
  constructor(waitedMs: number) {
    super("store_busy", `the database stayed locked by another process for ${Math.round(waitedMs)} ms; is a process stuck holding a write transaction?`);
  }
}

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
