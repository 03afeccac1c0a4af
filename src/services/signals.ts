/** Emitting signals (named facts tasks wait for): the CLI and the API call this. */
import { InputError } from "../core/errors.ts";
import { assertJsonWithinLimits, LIMITS } from "../core/limits.ts";
import type { EmitResult, Store } from "../store/types.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:\/-]{0,199}$/;

export async function emitSignal(store: Store, name: string, data: unknown, by: string): Promise<EmitResult> {
  if (!NAME.test(name)) {
    throw new InputError(`event name "${name}" is not valid: 1-200 letters, digits and _ . : / -, starting with a letter or digit`);
  }
  assertJsonWithinLimits(data ?? null, "data", LIMITS.eventDataBytes);
  return store.emitSignal(name, data ?? null, by);
}
