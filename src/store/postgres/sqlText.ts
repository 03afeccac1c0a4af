/**
 * Small pieces of SQL shared by the PostgreSQL store's modules: closed sets
 * as literal lists, JSON as text, int8 back to numbers, advisory lock keys.
 */
import type { SQL } from "bun";

/**
 * A closed set as an SQL list of literals (`'a','b'`), for `state IN (…)`.
 * The values come from the constants in src/core/states.ts, never from input.
 */
export function inList(values: readonly string[]): string {
  return values.map((value) => `'${value.replace(/'/g, "''")}'`).join(",");
}

/** Runs one statement with bound parameters (a named prepared statement per connection). */
export function q<T = Record<string, unknown>>(sql: SQL, text: string, params: unknown[] = []): Promise<T[]> {
  return sql.unsafe(text, params) as unknown as Promise<T[]>;
}

/** JSON as stored (text, exactly as written): undefined is SQL NULL. Throws for what JSON cannot hold (a bigint). */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/**
 * A JSON text column as jsonb, to look inside it. jsonb refuses two escapes
 * that JSON.stringify writes and a text column holds: \u0000 (22P05), for a
 * NUL in a string, and a lone surrogate (\ud800, for a string cut in the
 * middle of an emoji), which would make every read of the row fail (22P02).
 * Either may be anywhere in a task input, an output or a reason, so both
 * are taken out for the cast; an escaped backslash (\\) is matched as a
 * pair first, so "\\ud800", a backslash then the letters, is left alone.
 * Only the cast sees the change: the value stored and read back stays as
 * written, and the fields read through this are not free text. A text with
 * no escape at all (most) skips the regular expression.
 */
export function jsonb(column: string): string {
  return `(CASE WHEN strpos(${column}, '\\u') = 0 THEN ${column} ELSE regexp_replace(${column}, '(\\\\\\\\)|\\\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\1', 'g') END)::jsonb`;
}

export function fromJson<T = unknown>(text: string | null | undefined): T | null {
  return text === null || text === undefined ? null : (JSON.parse(text) as T);
}

/** int8 columns come back as strings (Bun.SQL): the store's ids and times fit a double exactly. */
export function num(value: string | number | bigint): number;
export function num(value: string | number | bigint | null): number | null;
export function num(value: string | number | bigint | null): number | null {
  return value === null ? null : Number(value);
}

/**
 * A stable 52-bit key for pg_advisory_xact_lock, from a name (FNV-1a, two
 * rounds): each schema gets its own keys, so stores of different schemas
 * (tests, tenants) never wait for each other.
 */
export function lockKey(name: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return (a & 0xfffff) * 2 ** 32 + b;
}

/** PostgreSQL text cannot hold NUL; output of a process can. */
export function pgText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/**
 * The tasks of a batch, for a statement that writes for many attempts at
 * once (steps, completions, heartbeats, logs): `alias.id = ANY(ids)`, the
 * batch's task ids bound as `ids`. Beside it, each row's fence is (task id,
 * attempt id), and no statement says `state = 'running'`.
 * - It need not: a task holds an attempt id exactly while it runs (the CHECK
 *   on tasks).
 * - The state must not be there: it lets the planner use the partial index
 *   tasks_leased, and after an ANALYZE that saw few tasks running it walked
 *   every running task for every row of the batch (a nested loop over both:
 *   a completion of 128 tasks took 4–6 ms instead of under 1).
 * - The ids are there: joined only to the batch's rows, a table without
 *   statistics was read whole and hashed (a custom plan knows the batch's
 *   128 rows, not the table's 20,000: 23–38 ms a completion with four
 *   drones). `id = ANY(…)` gives the planner the batch's ids as a condition
 *   on the primary key, and with random_page_cost at 1.1 (database.ts) it
 *   looks them up (test/postgres-plans.test.ts; a table of a few thousand
 *   rows it may still read whole, which costs less there).
 */
export function batchTasks(alias: string, ids: string): string {
  return `${alias}.id = ANY(${ids}::bigint[])`;
}

/**
 * Parameters numbered as they are added, for statements whose text depends
 * on the options (a run filter, workflows): PostgreSQL refuses a parameter
 * the text does not use, so each one is added only where it appears.
 */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
