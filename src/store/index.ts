/**
 * Opening the store named by --db / FARCASTER_DB, or else the one found as
 * git finds .git: .farcaster/farcaster.db in the current directory, then in
 * each directory above it. A `postgres://` (or `postgresql://`) URL opens the
 * PostgreSQL store (a swarm across machines); anything else is a SQLite file.
 * Three ways to open it, by what the caller will do:
 *   create   write, creating and migrating the database if needed (run, worker, serve)
 *            (with none found, it is created in the current directory)
 *   existing write to a database that must exist already (approve, cancel, emit)
 *   read     never write, never migrate (status, inspect, the dashboard)
 *
 * The search is bounded, as git's is (CVE-2022-24765): it does not go up into
 * a directory of FARCASTER_CEILING_DIRECTORIES (colon-separated absolute paths,
 * like GIT_CEILING_DIRECTORIES), and it passes over a database that is not
 * ours — the file or its .farcaster directory owned by another user. On a
 * shared /tmp anyone can create /tmp/.farcaster/farcaster.db, and a worker
 * started below it would run their shell tasks. A database named with --db or
 * FARCASTER_DB is used whoever owns it: naming it is trusting it.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { NotFoundError, UsageError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import { isPostgresUrl, redact } from "./postgres/database.ts";
import { PostgresStore } from "./postgres/store.ts";
import { parseSyncMode } from "./sqlite/database.ts";
import { SharedSqliteStore } from "./sqlite/shared/store.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./types.ts";

export const DEFAULT_DB_PATH = join(".farcaster", "farcaster.db");

/** Where the database comes from: named (flag or FARCASTER_DB), found in a directory, or the default to create. */
export interface DbLocation {
  /** A PostgreSQL URL as given, or an absolute file path. */
  db: string;
  source: "flag" | "env" | "found" | "default";
  /** The directories searched for .farcaster/farcaster.db, nearest first (empty when the database was named). */
  searched: string[];
  /** The FARCASTER_CEILING_DIRECTORIES entry that stopped the search, if one did. */
  ceiling?: string;
  /** Databases found and passed over: another user owns the file or its directory. */
  ignored: IgnoredDatabase[];
}

export interface IgnoredDatabase {
  path: string;
  /** The uid that owns it (the file, or else its .farcaster directory). */
  owner: number;
}

/** The ceiling directories: absolute paths only (as git; a relative entry is ignored), symlinks resolved. */
export function ceilingDirectories(value: string | undefined): Set<string> {
  const dirs = new Set<string>();
  for (const entry of (value ?? "").split(":")) {
    if (!isAbsolute(entry)) continue;
    dirs.add(resolve(entry));
    try {
      dirs.add(realpathSync(entry));
    } catch {
      // a ceiling that does not exist bounds nothing but its own path
    }
  }
  return dirs;
}

/** The uid of whoever else owns the database at `candidate` (or its directory); null when it is ours, or ownership cannot be told (Windows). */
function foreignOwner(candidate: string): number | null {
  const me = process.getuid?.();
  if (me === undefined) return null;
  for (const path of [candidate, dirname(candidate)]) {
    const owner = statSync(path, { throwIfNoEntry: false })?.uid;
    if (owner !== undefined && owner !== me) return owner;
  }
  return null;
}

/**
 * The database named by the flag or FARCASTER_DB, else the nearest
 * .farcaster/farcaster.db in `cwd` or above it, else (source "default") the
 * one a creating command makes in `cwd`.
 */
export function locateDatabase(flag?: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): DbLocation {
  if (flag !== undefined && flag.trim() === "") throw new UsageError("--db needs a database file or a postgres:// URL (leave it out to use FARCASTER_DB or the nearest .farcaster/farcaster.db)");
  const named = flag ?? env.FARCASTER_DB;
  if (named !== undefined && named !== "") {
    // Any other scheme would become a file named after the URL (`mysql:/x`), and a typo such as postgress:// a local SQLite file.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(named) && !isPostgresUrl(named)) {
      throw new UsageError(`${flag !== undefined ? "--db" : "FARCASTER_DB"} ${redact(named)}: only postgres:// (or postgresql://) URLs and file paths are supported`);
    }
    return { db: isPostgresUrl(named) ? named : resolve(cwd, named), source: flag !== undefined ? "flag" : "env", searched: [], ignored: [] };
  }
  const ceilings = ceilingDirectories(env.FARCASTER_CEILING_DIRECTORIES);
  const searched: string[] = [];
  const ignored: IgnoredDatabase[] = [];
  let ceiling: string | undefined;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    searched.push(dir);
    const candidate = join(dir, DEFAULT_DB_PATH);
    if (existsSync(candidate)) {
      const owner = foreignOwner(candidate);
      if (owner === null) return { db: candidate, source: "found", searched, ignored, ...(ceiling ? { ceiling } : {}) };
      ignored.push({ path: candidate, owner });
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    // As git: the search starts in a ceiling directory if it is the current one, but never goes up into one.
    if (ceilings.has(parent)) {
      ceiling = parent;
      break;
    }
  }
  return { db: resolve(cwd, DEFAULT_DB_PATH), source: "default", searched, ignored, ...(ceiling ? { ceiling } : {}) };
}

/** Why a database found was passed over, and how to use it anyway. */
export function ignoredMessage(ignored: IgnoredDatabase): string {
  return `ignoring ${ignored.path}: it is owned by uid ${ignored.owner}, not by you (uid ${process.getuid?.()}), so another user may have put it there; name it with --db (or FARCASTER_DB) if you trust it`;
}

/** The database named by the flag, FARCASTER_DB or found from the current directory: a PostgreSQL URL as given, a file path made absolute. */
export function resolveDbPath(flag?: string, env: Record<string, string | undefined> = process.env): string {
  return locateDatabase(flag, env).db;
}

/** The directory a found database belongs to (the one holding .farcaster/). */
export function projectDirOf(location: DbLocation): string {
  return dirname(dirname(location.db));
}

/** No database was named and none was found: say where we looked. */
export function noDatabaseFound(location: DbLocation): NotFoundError {
  const [nearest] = location.searched;
  const above = location.searched.length > 1 ? ` and the ${location.searched.length - 1} directories above it (up to ${location.searched.at(-1)})` : "";
  const stopped = location.ceiling ? ` (not ${location.ceiling} or above: a ceiling in FARCASTER_CEILING_DIRECTORIES)` : "";
  const passed = location.ignored.map((db) => `, passing over ${db.path} (owned by uid ${db.owner}, not by you)`).join("");
  return new NotFoundError(
    "database",
    DEFAULT_DB_PATH,
    `looked in ${nearest}${above}${stopped}${passed}; start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database`,
  );
}

/** The database for messages: a file path, or a URL without its password. */
export function describeDb(db: string): string {
  return isPostgresUrl(db) ? redact(db) : db;
}

export { isPostgresUrl };

export type StoreAccess = "create" | "existing" | "read";

export interface OpenStoreOptions {
  db?: string;
  sync?: string;
  clock?: Clock;
  /** Default "create". */
  access?: StoreAccess;
  /**
   * A long-lived writer (worker, serve, the main job): share one writing
   * process per file with the others on this machine (sqlite/shared/store.ts).
   */
  share?: boolean;
  /** With `share`: niceness this process adds to itself once it writes through another's host (SharingOptions.clientNiceness). */
  clientNiceness?: number;
  /** Where the database is, when the caller has looked already (the CLI, which names it): not looked up again. */
  location?: DbLocation;
}

export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const location = options.location ?? locateDatabase(options.db);
  const db = location.db;
  const access = options.access ?? "create";
  if (isPostgresUrl(db)) {
    return PostgresStore.open(db, { clock: options.clock, readOnly: access === "read", access: access === "existing" ? "existing" : "create" });
  }
  if (access !== "create" && location.source === "default") throw noDatabaseFound(location);
  if (access !== "create" && !existsSync(db)) {
    throw new NotFoundError("database", db, "start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database");
  }
  const settings = { sync: parseSyncMode(options.sync ?? process.env.FARCASTER_SYNC), clock: options.clock };
  if (access === "read") return new SqliteStore(db, { ...settings, readOnly: true });
  return options.share ? new SharedSqliteStore(db, { ...settings, clientNiceness: options.clientNiceness }) : new SqliteStore(db, settings);
}


export type * from "./types.ts";
export { SqliteStore } from "./sqlite/store.ts";
export { PostgresStore } from "./postgres/store.ts";
