/** Waiting for a run to end, for programs that embed Farcaster: woken by commits, not by polling alone. */
import { TERMINAL_RUN_STATES } from "../core/states.ts";
import type { RunRecord, Store } from "../store/types.ts";

/** Looks again at least this often, whatever the database says (another process's commit may go unseen). */
const RECHECK_MS = 1_000;

/**
 * Resolves with the run once it has ended (succeeded, failed or cancelled);
 * rejects with the abort reason when `signal` aborts first. Something must
 * run its tasks: drones in this process or in others.
 */
export async function waitForRun(store: Store, runId: string, options: { signal?: AbortSignal } = {}): Promise<RunRecord> {
  for (;;) {
    // The token is taken before the read: a change between the two ends the wait at once.
    const since = store.changeToken();
    const run = await store.getRun(runId);
    if (TERMINAL_RUN_STATES.has(run.state)) return run;
    options.signal?.throwIfAborted();
    await store.waitForChange({ since, signal: options.signal, maxWaitMs: RECHECK_MS });
    options.signal?.throwIfAborted();
  }
}
