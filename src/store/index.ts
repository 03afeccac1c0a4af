/**
 * Opening the store named by --db / FARCASTER_DB, or the default file under
 * the current directory. A `postgres://` (or `postgresql://`) URL opens the
 * PostgreSQL store (a swarm across machines); anything else is a SQLite file.
 * Three ways to open it, by what the caller will do:
 *   create   write, creating and migrating the database if needed (run, worker, serve)
 *   existing write to a database that must exist already (approve, cancel, emit)
 *   read     never write, never migrate (status, inspect, the dashboard)
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { NotFoundError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import { isPostgresUrl, redact } from "./postgres/database.ts";
import { PostgresStore } from "./postgres/store.ts";
import { parseSyncMode } from "./sqlite/database.ts";
import { SharedSqliteStore } from "./sqlite/shared/store.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./types.ts";

export const DEFAULT_DB_PATH = join(".farcaster", "farcaster.db");

/** The database named by the flag, FARCASTER_DB or the default: a PostgreSQL URL as given, a file path made absolute. */
export function resolveDbPath(flag?: string, env: Record<string, string | undefined> = process.env): string {
  const db = flag ?? env.FARCASTER_DB ?? DEFAULT_DB_PATH;
  return isPostgresUrl(db) ? db : resolve(db);
}

/** The database for messages: a file path, or a URL without its password. */
export function describeDb(db: string): string {
  return isPostgresUrl(db) ? redact(db) : db;
}

export { isPostgresUrl };

/**
 * Whether there is a database to read: a file that exists, or a PostgreSQL
 * database with Farcaster's tables (a server that cannot be reached is an
 * error, not "no database").
 */
export async function databaseExists(db: string): Promise<boolean> {
  if (!isPostgresUrl(db)) return existsSync(db);
  try {
    await (await PostgresStore.open(db, { readOnly: true, poolSize: 1 })).close();
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

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
  const db = resolveDbPath(options.db);
  const access = options.access ?? "create";
  if (isPostgresUrl(db)) {
    return PostgresStore.open(db, { clock: options.clock, readOnly: access === "read", access: access === "existing" ? "existing" : "create" });
  }
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
