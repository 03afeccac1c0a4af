/** Option values every command reads the same way: checked numbers and durations, and the workflows to load. */
import { MAX_DURATION_TEXT, parseDuration } from "../core/duration.ts";
import { UsageError } from "../core/errors.ts";
import { loadWorkflows, type WorkflowRegistry } from "../engine/registry.ts";
import { resolve } from "node:path";
import { ignoredMessage, locateDatabase, openStore, projectDirOf, type DbLocation, type Store, type StoreAccess } from "../store/index.ts";
import { stringOption, type CommandContext } from "./command.ts";

/** A whole number within [min, max]; `fallback` when the option is absent (undefined without one). */
export function intOption(context: CommandContext, name: string, range: { min: number; max: number; fallback: number }): number;
export function intOption(context: CommandContext, name: string, range: { min: number; max: number }): number | undefined;
export function intOption(context: CommandContext, name: string, range: { min: number; max: number; fallback?: number }): number | undefined {
  const raw = stringOption(context, name);
  if (raw === undefined) return range.fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${name} must be a whole number from ${range.min} to ${range.max} (got "${raw}")`);
  }
  return n;
}

/**
 * A positive duration such as 500ms, 30s or 2m; `fallback` when the option is
 * absent. `allowZero` for the few options where 0 means something (no grace at all).
 */
export function durationOption(context: CommandContext, name: string, fallback: number, options: { allowZero?: boolean; min?: { ms: number; text: string; why: string } } = {}): number {
  const raw = stringOption(context, name);
  if (raw === undefined) return fallback;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < 0 || (ms === 0 && !options.allowZero)) {
    throw new UsageError(`--${name} must be a duration such as ${options.allowZero ? "0s, " : ""}500ms, 30s or 2m, at most ${MAX_DURATION_TEXT} (got "${raw}")`);
  }
  if (options.min && ms < options.min.ms) throw new UsageError(`--${name} must be at least ${options.min.text}: ${options.min.why} (got "${raw}")`);
  return ms;
}

/** The built-in workflows, ./workflows, $FARCASTER_WORKFLOWS and --workflows DIR. */
export function commandWorkflows(context: CommandContext): Promise<WorkflowRegistry> {
  return loadWorkflows({ dirs: [stringOption(context, "workflows") ?? ""] });
}

/**
 * Opens the store named by --db / FARCASTER_DB, or found from the current
 * directory upwards (src/store/index.ts). A database found above the current
 * directory is named on stderr (with --json in the command's notes), so nobody
 * writes to a database they did not expect. `access` says what the command does with it:
 * a reader never writes or migrates, and neither a reader nor a decider
 * creates a database that is not there.
 */
export function openCommandStore(context: CommandContext, access: StoreAccess, options: { share?: boolean; clientNiceness?: number } = {}): Promise<Store> {
  const flag = stringOption(context, "db");
  const location = locateDatabase(flag);
  noteLocation(context, location);
  return openStore({ db: flag, access, share: options.share, clientNiceness: options.clientNiceness, location });
}

/** Databases passed over already named on stderr (a command that opens its store twice says so once). */
const toldIgnored = new Set<string>();

/**
 * Says which database a command uses when it is not in the current directory,
 * and which it passed over (not ours). With --json this goes to the notes
 * main() writes at the end (or folds into the error), so stderr carries one object.
 */
function noteLocation(context: CommandContext, location: DbLocation): void {
  const ignored = location.ignored.filter((db) => !toldIgnored.has(db.path));
  for (const db of ignored) toldIgnored.add(db.path);
  const above = location.source === "found" && projectDirOf(location) !== resolve(process.cwd());
  if (!above && ignored.length === 0) return;
  if (context.values.json) {
    const database: Record<string, unknown> = above ? { path: location.db, foundIn: projectDirOf(location) } : {};
    if (ignored.length > 0) database.ignored = ignored;
    if (context.notes) context.notes.database = database;
    else context.output.err(JSON.stringify({ database })); // a context main() did not make: nothing else will write it
    return;
  }
  for (const db of ignored) context.output.err(`farcaster: ${ignoredMessage(db)}`);
  if (above) context.output.err(`farcaster: using ${location.db} (found in ${projectDirOf(location)}, above the current directory)`);
}

/** Runs `fn` with the store (see openCommandStore), and closes it. */
export async function withStore<T>(context: CommandContext, access: StoreAccess, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openCommandStore(context, access);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
