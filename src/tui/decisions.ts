/**
 * Decisions made from the dashboard, through the decision service the CLI
 * and the HTTP API use. The dashboard reads through a read-only store; a
 * decision opens a writing store for itself and closes it after, so a
 * dashboard left open holds no writer.
 */
import { approveGate, rejectGate } from "../services/gates.ts";
import type { Store } from "../store/types.ts";
import type { Decisions } from "./app.ts";

/** Who decides from the dashboard: the local user, marked as deciding from it. */
export function dashboardActor(user: string): string {
  return `${user} (tui)`;
}

export function storeDecisions(openWriter: () => Store | Promise<Store>, actor: string): Decisions {
  async function withWriter<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const store = await openWriter();
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }
  return {
    approve: (gateId) => withWriter((store) => approveGate(store, gateId, actor)),
    reject: (gateId, reason, action) => withWriter((store) => rejectGate(store, gateId, { by: actor, reason, action })),
    cancel: (runId) => withWriter((store) => store.cancelRun(runId, { actor, reason: "cancelled from the dashboard" })),
  };
}
