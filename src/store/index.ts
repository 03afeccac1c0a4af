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
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { NotFoundError } from "../core/errors.ts";
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
}

/**
 * The database named by the flag or FARCASTER_DB, else the nearest
 * .farcaster/farcaster.db in `cwd` or above it, else (source "default") the
 * one a creating command makes in `cwd`.
 */
export function locateDatabase(flag?: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): DbLocation {
  const named = flag ?? env.FARCASTER_DB;
  if (named !== undefined && named !== "") {
    return { db: isPostgresUrl(named) ? named : resolve(cwd, named), source: flag !== undefined ? "flag" : "env", searched: [] };
  }
  const searched: string[] = [];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    searched.push(dir);
    const candidate = join(dir, DEFAULT_DB_PATH);
    if (existsSync(candidate)) return { db: candidate, source: "found", searched };
    if (dirname(dir) === dir) break;
  }
  return { db: resolve(cwd, DEFAULT_DB_PATH), source: "default", searched };
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
  return new NotFoundError(
    "database",
    DEFAULT_DB_PATH,
    `looked in ${nearest}${above}; start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database`,
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
}

export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const location = locateDatabase(options.db);
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
  return options.share ? new SharedSqliteStore(db, settings) : new SqliteStore(db, settings);
}

/** For commands that decide (approve, cancel…): a missing database is an error, not a new empty one. */
export function openExistingStore(options: Omit<OpenStoreOptions, "access"> = {}): Promise<Store> {
  return openStore({ ...options, access: "existing" });
}

export type * from "./types.ts";
export { SqliteStore } from "./sqlite/store.ts";
export { PostgresStore } from "./postgres/store.ts";
