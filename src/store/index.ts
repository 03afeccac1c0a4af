/**
 * Opening the store named by --db / FARCASTER_DB, or the default file under
 * the current directory. Three ways to open it, by what the caller will do:
 *   create   write, creating and migrating the database if needed (run, worker, serve)
 *   existing write to a database that must exist already (approve, cancel, emit)
 *   read     never write, never migrate (status, inspect, the dashboard)
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { NotFoundError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import { parseSyncMode } from "./sqlite/database.ts";
import { SharedSqliteStore } from "./sqlite/shared/store.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./types.ts";

export const DEFAULT_DB_PATH = join(".farcaster", "farcaster.db");

export function resolveDbPath(flag?: string, env: Record<string, string | undefined> = process.env): string {
  return resolve(flag ?? env.FARCASTER_DB ?? DEFAULT_DB_PATH);
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

export function openStore(options: OpenStoreOptions = {}): Store {
  const path = resolveDbPath(options.db);
  const access = options.access ?? "create";
  if (access !== "create" && !existsSync(path)) {
    throw new NotFoundError("database", path, "start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database");
  }
  const settings = { sync: parseSyncMode(options.sync ?? process.env.FARCASTER_SYNC), clock: options.clock };
  if (access === "read") return new SqliteStore(path, { ...settings, readOnly: true });
  return options.share ? new SharedSqliteStore(path, settings) : new SqliteStore(path, settings);
}

/** For commands that decide (approve, cancel…): a missing database is an error, not a new empty file. */
export function openExistingStore(options: Omit<OpenStoreOptions, "access"> = {}): Store {
  return openStore({ ...options, access: "existing" });
}

export type * from "./types.ts";
export { SqliteStore } from "./sqlite/store.ts";
