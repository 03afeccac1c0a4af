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
