/**
 * Text that people and models hand us (goals, titles, descriptions, reasons,
 * names) is stored as text, and PostgreSQL's text cannot hold U+0000: it
 * refuses the whole statement ("invalid byte sequence for encoding UTF8:
 * 0x00"). SQLite would keep it. So that both stores accept the same input, a
 * NUL is refused where the text comes in, naming the field. JSON values
 * (task inputs, event data, outputs) are not affected: JSON.stringify writes
 * a NUL as the escape \u0000, which any text column holds.
 */
import { z } from "zod";
import { InputError } from "./errors.ts";

export const NUL_PROBLEM = "contains a NUL character (U+0000), which no text field may hold; remove it";

export function hasNul(value: string): boolean {
  return value.includes("\u0000");
}

/** A string schema that refuses U+0000 (chain .min(), .optional() and the rest after it). */
export function text(params?: Parameters<typeof z.string>[0]): z.ZodString {
  return z.string(params).refine((value) => !hasNul(value), { message: NUL_PROBLEM });
}

/** Throws an InputError naming `field` when `value` holds a NUL. */
export function refuseNul(value: string | undefined, field: string): void {
  if (value !== undefined && hasNul(value)) throw new InputError(`${field} ${NUL_PROBLEM}`, [{ path: field, message: NUL_PROBLEM }]);
}

/** Who acts (a decider, an actor): shown in every event and list, so a name, not a document. */
export const ACTOR_MAX_CHARS = 200;
/** A reason (a rejection, a cancellation): the next attempt reads a rejection's as feedback. */
export const REASON_MAX_CHARS = 16_000;

const ACTOR_PROBLEM = `must name who acts: 1 to ${ACTOR_MAX_CHARS} characters, not only spaces`;
const REASON_PROBLEM = `must be at most ${REASON_MAX_CHARS.toLocaleString("en-US")} characters`;

/** The schema of an actor field (`by`): trimmed, not empty, not long. */
export function actorText(): z.ZodString {
  return text().trim().min(1, ACTOR_PROBLEM).max(ACTOR_MAX_CHARS, ACTOR_PROBLEM);
}

/** The schema of a reason field: trimmed, at most REASON_MAX_CHARS. */
export function reasonText(params?: Parameters<typeof z.string>[0]): z.ZodString {
  return text(params).trim().max(REASON_MAX_CHARS, REASON_PROBLEM);
}

/** Throws an InputError naming `field` when `value` is not a name of who acts (see actorText). */
export function refuseBadActor(value: string, field: string): void {
  refuseNul(value, field);
  if (value.trim() === "" || value.length > ACTOR_MAX_CHARS) throw new InputError(`${field} ${ACTOR_PROBLEM}`, [{ path: field, message: ACTOR_PROBLEM }]);
}

/** Throws an InputError naming `field` when a reason is over REASON_MAX_CHARS (or holds a NUL). */
export function refuseBadReason(value: string | undefined, field: string): void {
  refuseNul(value, field);
  if (value !== undefined && value.length > REASON_MAX_CHARS) throw new InputError(`${field} ${REASON_PROBLEM}`, [{ path: field, message: REASON_PROBLEM }]);
}
