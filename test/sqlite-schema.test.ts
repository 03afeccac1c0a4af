/**
 * Shipped migrations are frozen. Two guards:
 * - migrations.lock holds the sha256 of every migration file: editing a
 *   shipped one fails here (add a new numbered migration instead);
 * - sqlite.sql is the schema after all migrations, dumped in a stable order:
 *   a schema change without a new migration (or a migration without its
 *   snapshot) fails here.
 * After adding a migration: UPDATE_SCHEMA_SNAPSHOT=1 bun test test/sqlite-schema.test.ts
 * (it appends the new file to the lock and rewrites the snapshot; it never
 * rewrites the hash of a file already in the lock).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadMigrations, openDatabase } from "../src/store/sqlite/database.ts";
import { freshDir } from "./helpers.ts";

const DIR = join(import.meta.dir, "fixtures", "schema");
const LOCK = join(DIR, "migrations.lock");
const SNAPSHOT = join(DIR, "sqlite.sql");
const UPDATE = process.env.UPDATE_SCHEMA_SNAPSHOT === "1";

function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

function readLock(): Map<string, string> {
  if (!existsSync(LOCK)) return new Map();
  return new Map(readFileSync(LOCK, "utf8").split("\n").filter(Boolean).map((line) => line.split(/\s+/) as [string, string]));
}

/** The schema as SQLite stores it, one statement per object, ordered by kind and name. */
export function dumpSchema(): string {
  const db = openDatabase(join(freshDir(), "schema.db"));
  try {
    const rows = db
      .query<{ type: string; name: string; sql: string | null }, []>(
        "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, name",
      )
      .all();
    return rows.map((row) => `-- ${row.type} ${row.name}\n${row.sql};\n`).join("\n");
  } finally {
    db.close();
  }
}

describe("shipped migrations are frozen", () => {
  test("no migration in the lock has changed since it shipped, and every migration is in the lock", () => {
    const lock = readLock();
    const migrations = loadMigrations();
    for (const migration of migrations) {
      const hash = sha256(migration.sql);
      const locked = lock.get(migration.name);
      if (locked === undefined && UPDATE) lock.set(migration.name, hash);
      else if (locked === undefined) throw new Error(`${migration.name} is not in ${LOCK}; run UPDATE_SCHEMA_SNAPSHOT=1 bun test test/sqlite-schema.test.ts`);
      else expect({ file: migration.name, hash }).toEqual({ file: migration.name, hash: locked });
    }
    expect([...lock.keys()]).toEqual(migrations.map((m) => m.name)); // a shipped migration was removed or renamed
    if (UPDATE) writeFileSync(LOCK, [...lock].map(([name, hash]) => `${name} ${hash}`).join("\n") + "\n");
  });

  test("the schema after all migrations matches the checked-in snapshot", () => {
    const schema = dumpSchema();
    if (UPDATE) writeFileSync(SNAPSHOT, schema);
    expect(schema).toBe(readFileSync(SNAPSHOT, "utf8"));
  });
});
