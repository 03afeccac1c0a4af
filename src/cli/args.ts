/** Option values every command reads the same way: checked numbers and durations, and the workflows to load. */
import { parseDuration } from "../core/duration.ts";
import { UsageError } from "../core/errors.ts";
import { loadWorkflows, type WorkflowRegistry } from "../engine/registry.ts";
import { openStore, type Store, type StoreAccess } from "../store/index.ts";
import { stringOption, type CommandContext } from "./command.ts";

/** A whole number within [min, max]; `fallback` when the option is absent. */
export function intOption(context: CommandContext, name: string, range: { min: number; max: number; fallback: number }): number {
  const raw = stringOption(context, name);
  if (raw === undefined) return range.fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${name} must be a whole number from ${range.min} to ${range.max} (got "${raw}")`);
  }
  return n;
}

/** A positive duration such as 500ms, 30s or 2m; `fallback` when the option is absent. */
export function durationOption(context: CommandContext, name: string, fallback: number): number {
  const raw = stringOption(context, name);
  if (raw === undefined) return fallback;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} must be a duration such as 500ms, 30s or 2m (got "${raw}")`);
  return ms;
}

/** The built-in workflows, ./workflows, $FARCASTER_WORKFLOWS and --workflows DIR. */
export function commandWorkflows(context: CommandContext): Promise<WorkflowRegistry> {
  return loadWorkflows({ dirs: [stringOption(context, "workflows") ?? ""] });
}

/**
 * Runs `fn` with the store named by --db / FARCASTER_DB, and closes it.
 * `access` says what the command does with it (see src/store/index.ts): a
 * reader never writes or migrates, and neither a reader nor a decider
 * creates a database that is not there.
 */
export async function withStore<T>(context: CommandContext, access: StoreAccess, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ db: stringOption(context, "db"), access });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
