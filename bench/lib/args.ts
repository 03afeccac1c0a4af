/**
 * Checked values of command-line options (node:util parseArgs gives strings):
 * a wrong value stops the benchmark before anything runs: one line naming the
 * option and what it takes, exit code 2, no stack trace.
 */
import { parseDuration } from "../../src/core/duration.ts";

export function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) return refuse(`${name} must be a positive number (got ${value})`);
  return number;
}

/** A positive whole number; a fraction is rounded. */
export function count(name: string, value: string | undefined): number {
  return Math.max(1, Math.round(positive(name, value)));
}

/** A whole number from `min` to `max`. */
export function integerIn(name: string, value: string | undefined, min: number, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) return refuse(`${name} must be a whole number from ${min} to ${max} (got ${value})`);
  return number;
}

export function nonNegative(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) return refuse(`${name} must be a number ≥ 0 (got ${value})`);
  return number;
}

/** A duration such as 500ms, 2s or 1m, in milliseconds. */
export function duration(name: string, value: string | undefined): number {
  const ms = value === undefined ? undefined : parseDuration(value);
  if (ms === undefined || !(ms > 0)) return refuse(`${name} must be a duration such as 2s (got ${value})`);
  return ms;
}

/** A comma-separated list, each item one of `allowed`. */
export function choices<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((item) => item.trim()).filter(Boolean);
  const wrong = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (wrong.length > 0 || items.length === 0) return refuse(`${name} takes a comma-separated list of ${allowed.join(", ")} (got ${value})`);
  return items as T[];
}

/** Says what was wrong with an option and exits: these checks run before anything starts, so nothing is left behind. */
function refuse(message: string): never {
  console.error(message);
  process.exit(2);
}
