/**
 * Decisions on gates. The CLI, the HTTP API and the dashboard all call these,
 * so a decision means the same thing wherever it is made.
 */
import { UsageError } from "../core/errors.ts";
import { REJECT_ACTIONS } from "../core/states.ts";
import { refuseBadActor, refuseBadReason } from "../core/text.ts";
import type { GateRecord, RejectAction, Store } from "../store/types.ts";

export async function approveGate(store: Store, gateId: string, by: string): Promise<GateRecord> {
  refuseBadActor(by, "by");
  return store.decideGate(gateId, { approved: true, by });
}

export async function rejectGate(store: Store, gateId: string, options: { by: string; reason: string; action?: string }): Promise<GateRecord> {
  refuseBadActor(options.by, "by");
  refuseBadReason(options.reason, "reason");
  const action = (options.action ?? "fail") as RejectAction;
  if (!REJECT_ACTIONS.includes(action)) throw new UsageError(`the action after a rejection is one of ${REJECT_ACTIONS.join(", ")} (got "${action}")`);
  return store.decideGate(gateId, { approved: false, by: options.by, reason: options.reason, action });
}

/** Who is deciding, when nobody said: the local user. */
export function defaultDecider(env = process.env): string {
  return env.FARCASTER_USER ?? env.USER ?? env.USERNAME ?? "cli";
}
