/**
 * An idempotency key stands for one request: a client that retries sends the
 * same key with the same body and gets the run the first request made. The
 * same key with another body is a mistake in the client (a key reused for
 * new work), and answering it with the old run would hide that the new work
 * was never started; so it is refused (the IETF Idempotency-Key draft asks
 * for a 422, as Stripe answers too). Requests are compared by a hash of
 * their body with its object keys in a fixed order, so key order and spacing
 * do not matter.
 */
import { IdempotencyKeyReusedError } from "./errors.ts";
import { contentHash } from "./hash.ts";

/** The hash of a request body (parsed JSON): the same for the same data whatever its key order. */
export function requestHash(body: unknown): string {
  return contentHash(JSON.stringify(sortKeys(body)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

/** Throws when the run an idempotency key names was made by another request; a run recorded without a hash (a schedule's) matches any. */
export function refuseOtherRequest(run: { id: string; idempotencyKey: string | null; requestHash: string | null }, hash: string | undefined): void {
  if (hash !== undefined && run.requestHash !== null && run.requestHash !== hash) throw new IdempotencyKeyReusedError(run.idempotencyKey ?? "", run.id);
}

/** What a new run records: the request's hash, kept only with the key it belongs to. */
export function requestHashOf(options: { idempotencyKey?: string; requestHash?: string }): string | null {
  return options.idempotencyKey ? (options.requestHash ?? null) : null;
}
