/**
 * Prepared statements, kept for the life of their connection.
 *
 * bun's `db.query()` caches only the 20 most recently used SQL texts per
 * connection. A drone's loop uses more than that (claims, completions,
 * heartbeats, steps, reads, the claim's upkeep), so with `db.query()` its
 * statements would be evicted and prepared again and again. The store's SQL
 * texts are a small fixed set (plus the claim's variants, one per limit and
 * count of ready workflows: see claimReady), so
 * this cache keeps each one for the connection's life; past MAX_STATEMENTS
 * (a caller making unbounded variants) new texts go to bun's own cache.
 */
import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";

/**
 * A closed set as an SQL list of literals (`'a','b'`), for `state IN (…)`.
 * The values come from the constants in src/core/states.ts, never from input.
 */
export function inList(values: readonly string[]): string {
  return values.map((value) => `'${value.replace(/'/g, "''")}'`).join(",");
}

const MAX_STATEMENTS = 256;

const caches = new WeakMap<Database, Map<string, Statement>>();

export function sql<Row = unknown, Params extends SQLQueryBindings[] = SQLQueryBindings[]>(db: Database, text: string): Statement<Row, Params> {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(text);
  if (!statement) {
    // Never finalize a cached statement here: a caller may still be stepping it.
    if (cache.size >= MAX_STATEMENTS) return db.query(text) as unknown as Statement<Row, Params>;
    statement = db.prepare(text);
    cache.set(text, statement);
  }
  return statement as unknown as Statement<Row, Params>;
}

/**
 * Finalizes the connection's cached statements. Call before `db.close()`: a
 * connection with live statements is only closed when they are garbage
 * collected, and until then it keeps its file, and its WAL, open.
 */
export function finalizeStatements(db: Database): void {
  const cache = caches.get(db);
  if (!cache) return;
  for (const statement of cache.values()) statement.finalize();
  caches.delete(db);
}
