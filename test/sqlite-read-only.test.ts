/**
 * The SQLite store opened read-only: it never creates, migrates or touches
 * the file, and refuses a database at another schema version than the code's.
 * That a read-only store refuses every write and reads what writers commit is
 * in the contract suite.
 */
import { rejected } from "./helpers.ts";
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseTooNewError, DatabaseTooOldError, NotFoundError } from "../src/core/errors.ts";
import { MIGRATIONS_DIR, openDatabase, schemaVersion } from "../src/store/sqlite/database.ts";
import { farcaster } from "./cli-helpers.ts";
import { freshDir, freshRealTimeStore, openTestStore, plan } from "./helpers.ts";

function readSchema<T>(path: string, read: (db: Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

const tableCount = (path: string) => readSchema(path, (db) => db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_schema").get()!.n);

/** A database at schema version 1 only, as an older farcaster left it. */
function oldDatabase(dir: string): string {
  const oldMigrations = join(dir, "migrations");
  mkdirSync(oldMigrations);
  cpSync(join(MIGRATIONS_DIR, "0001_init.sql"), join(oldMigrations, "0001_init.sql"));
  const path = join(dir, "old.db");
  openDatabase(path, { migrationsDir: oldMigrations }).close();
  return path;
}

describe("a read-only SQLite store", () => {
  test("never writes the file, not even for a write it refuses", async () => {
    const { store: writer, path } = freshRealTimeStore();
    const run = await writer.createRun(plan(["a"]));
    await writer.close();
    const before = statSync(path).mtimeMs;
    const reader = openTestStore(path, { readOnly: true });
    expect((await reader.getRun(run.id)).state).toBe("running");
    expect((await rejected(reader.claimTasks("w", 1, 1_000))).message).toContain("claiming tasks needs to write, but this store was opened read-only");
    expect(await rejected(reader.cancelRun(run.id))).toBeInstanceOf(Error);
    await reader.close();
    expect(statSync(path).mtimeMs).toBe(before);
  });

  test("never creates or migrates a database: a missing file, an older and a newer schema are refused", () => {
    expect(() => openTestStore(join(freshDir(), "none.db"), { readOnly: true })).toThrow(NotFoundError);

    const oldPath = oldDatabase(freshDir());
    const tables = tableCount(oldPath);
    expect(() => openTestStore(oldPath, { readOnly: true })).toThrow(DatabaseTooOldError);
    expect(() => openTestStore(oldPath, { readOnly: true })).toThrow("a read-only command does not upgrade it");
    expect(readSchema(oldPath, schemaVersion)).toBe(1);
    expect(tableCount(oldPath)).toBe(tables);

    const newPath = join(freshDir(), "new.db");
    const future = openDatabase(newPath);
    future.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)");
    future.close();
    expect(() => openTestStore(newPath, { readOnly: true })).toThrow(DatabaseTooNewError);
  });

  test("`farcaster status` reads without migrating: an older database is refused with the way forward, and left as it was", async () => {
    const path = oldDatabase(freshDir());
    const result = await farcaster(["status", "--db", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is at schema version 1, and this farcaster needs");
    expect(result.stderr).toContain("[database_too_old]");
    expect(readSchema(path, schemaVersion)).toBe(1);
  });
});
