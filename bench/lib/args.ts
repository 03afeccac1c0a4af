/**
 * Checked values of command-line options (node:util parseArgs gives strings):
 * a wrong value stops the benchmark before anything runs, with the option's name.
 */
import { parseDuration } from "../../src/core/duration.ts";

export function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} must be a positive number (got ${value})`);
  return number;
}

/** A positive whole number; a fraction is rounded. */
export function count(name: string, value: string | undefined): number {
  return Math.max(1, Math.round(positive(name, value)));
}

export function nonNegative(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`${name} must be a number ≥ 0 (got ${value})`);
  return number;
}

/** A duration such as 500ms, 2s or 1m, in milliseconds. */
export function duration(name: string, value: string | undefined): number {
  const ms = value === undefined ? undefined : parseDuration(value);
  if (ms === undefined || !(ms > 0)) throw new Error(`${name} must be a duration such as 2s (got ${value})`);
  return ms;
}

/** A comma-separated list, each item one of `allowed`. */
export function choices<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((item) => item.trim()).filter(Boolean);
  const wrong = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (wrong.length > 0 || items.length === 0) throw new Error(`${name} takes a comma-separated list of ${allowed.join(", ")} (got ${value})`);
  return items as T[];
}
