/** Opening the store named by --db / FARCASTER_DB, or the default file under the current directory. */
import { join, resolve } from "node:path";
import type { Clock } from "../core/clock.ts";
import { parseSyncMode } from "./sqlite/database.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./types.ts";

export const DEFAULT_DB_PATH = join(".farcaster", "farcaster.db");

export function resolveDbPath(flag?: string, env: Record<string, string | undefined> = process.env): string {
  return resolve(flag ?? env.FARCASTER_DB ?? DEFAULT_DB_PATH);
}

export interface OpenStoreOptions {
  db?: string;
  sync?: string;
  clock?: Clock;
}

export function openStore(options: OpenStoreOptions = {}): Store {
  const path = resolveDbPath(options.db);
  return new SqliteStore(path, { sync: parseSyncMode(options.sync ?? process.env.FARCASTER_SYNC), clock: options.clock });
}

export type * from "./types.ts";
export { SqliteStore } from "./sqlite/store.ts";
