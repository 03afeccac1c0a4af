/** Plain SQLite connections for the ceilings the benchmarks compare against. */
import { Database } from "bun:sqlite";

/** A connection with the store's PRAGMAs (see src/store/sqlite/database.ts), without its schema. */
export function openPlain(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA foreign_keys = ON");
  db.run("PRAGMA busy_timeout = 0");
  return db;
}
