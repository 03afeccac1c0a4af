/** Emitting signals (named facts tasks wait for): the CLI and the API call this. */
import { InputError } from "../core/errors.ts";
import { assertJsonWithinLimits, LIMITS, NON_FINITE_PROBLEM, nonFiniteNumberPath } from "../core/limits.ts";
import { refuseBadActor } from "../core/text.ts";
import type { EmitResult, Store } from "../store/types.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:\/-]{0,199}$/;

/** Why `name` cannot be an event name, or null when it can (the CLI checks a positional with it before opening the store). */
export function eventNameProblem(name: string): string | null {
  return NAME.test(name) ? null : `event name "${name}" is not valid: 1-200 letters, digits and _ . : / -, starting with a letter or digit`;
}

export async function emitSignal(store: Store, name: string, data: unknown, by: string): Promise<EmitResult> {
  const problem = eventNameProblem(name);
  if (problem) throw new InputError(problem);
  refuseBadActor(by, "by");
  assertJsonWithinLimits(data ?? null, "data", LIMITS.eventDataBytes);
  const infinite = nonFiniteNumberPath(data ?? null);
  if (infinite !== null) throw new InputError(`data${infinite} ${NON_FINITE_PROBLEM}`);
  return store.emitSignal(name, data ?? null, by);
}
