/**
 * Connecting to PostgreSQL and bringing the schema up to date.
 *
 * A store names its database with a URL: postgres://user@host:port/db
 * (also postgresql://), with an optional `?schema=NAME` that puts every
 * table in that schema (it is created if missing) instead of the user's
 * default one. The password, if the URL has one, never appears in a message.
 *
 * Each connection is set up on purpose (runtime parameters sent at connect):
 * - search_path: the store's schema, so every statement names bare tables.
 * - idle_in_transaction_session_timeout: a drone stopped in the middle of a
 *   transaction (SIGSTOP, a long GC pause, a cut network) would otherwise
 *   keep its row locks, and the tasks it holds could not be reclaimed, for as
 *   long as its connection lives; the server ends such a session instead.
 *   The store's own transactions never wait between statements but for the
 *   network, so a few seconds cannot hurt them.
 * - tcp_keepalives_*: a client that vanished without closing its socket (a
 *   partition, a machine that died) is noticed by the server in about half a
 *   minute rather than the kernel's two hours, and its locks are released.
 * - random_page_cost 1.1 (PostgreSQL's default is 4, for spinning disks):
 *   the store reads its rows through their keys and its hot rows stay in
 *   memory, where a page read at random costs about what one in sequence
 *   does. At 4, a completion of 128 tasks read a table of 20,000 whole
 *   rather than look them up (test/postgres-plans.test.ts).
 * - default_transaction_read_only (readers only): the server itself refuses
 *   a write from a viewer.
 *
 * Migrations are numbered files in migrations/postgres, applied in order,
 * each in its own transaction with its bookkeeping row; openers serialise on
 * a transaction-level advisory lock of the schema, so two processes opening a
 * fresh database at once apply each migration once. A database newer than
 * the code is refused.
 */
import { SQL } from "bun";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseTooNewError, DatabaseTooOldError, InputError, MigrationError, NotFoundError, StoreUnreachableError, UsageError } from "../../core/errors.ts";
import { NUL_PROBLEM } from "../../core/text.ts";
import { lockKey } from "./sqlText.ts";

export const MIGRATIONS_DIR = join(import.meta.dir, "..", "..", "..", "migrations", "postgres");

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const name of readdirSync(dir).sort()) {
    const match = /^(\d{4})_[a-z0-9_]+\.sql$/.exec(name);
    if (!match) continue;
    migrations.push({ version: Number(match[1]), name, sql: readFileSync(join(dir, name), "utf8") });
  }
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migrations in ${dir} must be numbered 0001, 0002, … without gaps; found ${migration.name} at position ${index + 1}`);
    }
  });
  return migrations;
}

/** `postgres://…` or `postgresql://…`: a PostgreSQL store; anything else is a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export interface PgTarget {
  /** The URL handed to the driver (without our own `schema` parameter). */
  url: string;
  /** Where to connect, for messages: user@host:port/database, never the password. */
  label: string;
  /** user@host:port/database alone, without the schema. */
  server: string;
  host: string;
  /** The schema named in the URL, or null for the user's default. */
  schema: string | null;
}

export function parsePgUrl(raw: string): PgTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`"${redact(raw)}" is not a PostgreSQL URL; write it as postgres://USER@HOST:PORT/DATABASE`);
  }
  const schema = url.searchParams.get("schema");
  url.searchParams.delete("schema");
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new UsageError(`schema "${schema}" in the database URL must be a lowercase SQL name (letters, digits, _; at most 63)`);
  }
  const host = url.hostname || "localhost";
  const port = url.port || "5432";
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username) || "postgres";
  const user = url.username ? `${decodeURIComponent(url.username)}@` : "";
  const server = `${user}${host}:${port}/${database}`;
  return { url: url.toString(), label: `${server}${schema ? ` (schema ${schema})` : ""}`, server, host: `${host}:${port}`, schema };
}

/** The URL with its password masked, for messages. */
export function redact(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}

/** The runtime parameters of every store connection (see the top of this file). */
export const SESSION_SETTINGS = {
  idle_in_transaction_session_timeout: 10_000,
  tcp_keepalives_idle: 10,
  tcp_keepalives_interval: 5,
  tcp_keepalives_count: 3,
  random_page_cost: 1.1,
} as const;

export interface ConnectOptions {
  readOnly?: boolean;
  /** Pool size (default 4). */
  max?: number;
  /** Shown in pg_stat_activity (and used by tests to find a store's connections). */
  applicationName?: string;
  /** Seconds to wait for a connection before it counts as unreachable (default 10). */
  connectTimeoutS?: number;
}

export function createPool(target: PgTarget, options: ConnectOptions = {}): SQL {
  // An application_name in the URL wins (an operator tagging a machine's drones); the listener's gets a suffix.
  const named = new URL(target.url).searchParams.get("application_name");
  const applicationName = named ? `${named}${options.applicationName?.endsWith(":listen") ? ":listen" : ""}` : (options.applicationName ?? "farcaster");
  const connection: Record<string, string | number | boolean> = { ...SESSION_SETTINGS, application_name: applicationName };
  if (target.schema) connection.search_path = target.schema;
  if (options.readOnly) connection.default_transaction_read_only = "on";
  return new SQL(target.url, { max: options.max ?? 4, connection, connectionTimeout: options.connectTimeoutS ?? 10, idleTimeout: 60 });
}

/** The SQLSTATE of a server error, looked for along its causes (a shared statement wraps the one it failed with). */
export function sqlState(error: unknown): string | undefined {
  const errno = (error as { errno?: unknown })?.errno;
  if (typeof errno === "string") return errno;
  const cause = (error as { cause?: unknown })?.cause;
  return cause && cause !== error ? sqlState(cause) : undefined;
}

/**
 * The server refused a value it cannot hold: a NUL in text (22021, "invalid
 * byte sequence for encoding UTF8: 0x00") or a \u0000 escape in a cast to
 * jsonb (22P05). The edges refuse NUL already (core/text.ts); this is the
 * backstop for a path they do not cover, so the caller hears that its input
 * was wrong (HTTP 400, CLI exit 1), not of an internal error.
 */
export function refusedText(error: unknown): InputError | null {
  const state = sqlState(error);
  if (state !== "22021" && state !== "22P05") return null;
  return new InputError(`PostgreSQL refused a value (${(error as Error)?.message ?? state}): a text value ${NUL_PROBLEM}`);
}

/** True for an error that means the server could not be reached or the connection broke (not an error the server reported). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; errno?: string } | null;
  if (!e || typeof e !== "object") return false;
  if (typeof e.errno === "string" && /^(08|57P0[123])/.test(e.errno)) return true; // connection exception; admin shutdown / crash / cannot connect now
  if (typeof e.errno === "string" && e.errno !== "") return false;
  return typeof e.code === "string" && /^ERR_POSTGRES_(CONNECTION|SOCKET|TLS|IDLE_TIMEOUT|LIFETIME_TIMEOUT|CONNECTION_TIMEOUT)/.test(e.code);
}

/** One line that names the server and what to check. */
export function unreachable(target: PgTarget, error: unknown): StoreUnreachableError {
  const e = error as { errno?: string; message?: string };
  let check = "check that PostgreSQL is running there and reachable from this machine (host, port, firewall), and the URL in --db / FARCASTER_DB";
  if (e?.errno === "3D000") check = "create the database first (createdb), or fix the database name in --db / FARCASTER_DB";
  else if (e?.errno === "28000" || e?.errno === "28P01") check = "check the user and password in --db / FARCASTER_DB, and pg_hba.conf on the server";
  return new StoreUnreachableError(`cannot reach PostgreSQL at ${target.label}: ${e?.message ?? String(error)}; ${check}`, { cause: error });
}

export interface SchemaInfo {
  /** The schema the store's tables live in. */
  schema: string;
  version: number;
}

async function currentSchema(sql: SQL): Promise<string | null> {
  const [row] = await sql.unsafe<{ schema: string | null }[]>("SELECT current_schema() AS schema");
  return row?.schema ?? null;
}

/** The schema version of the current schema (0: not a Farcaster database yet). */
async function currentVersion(sql: SQL): Promise<number> {
  const [table] = await sql.unsafe<{ found: boolean }[]>("SELECT to_regclass('schema_migrations') IS NOT NULL AS found");
  if (!table?.found) return 0;
  const [row] = await sql.unsafe<{ version: number | null }[]>("SELECT max(version) AS version FROM schema_migrations");
  return row?.version ?? 0;
}

/**
 * Brings the schema up to date. `create`: a database without Farcaster's
 * tables gets them; otherwise it is NotFoundError (a command that decides
 * must not create an empty database).
 */
export async function migrate(sql: SQL, target: PgTarget, now: () => number, options: { create: boolean; migrations?: Migration[] }): Promise<SchemaInfo> {
  const migrations = options.migrations ?? loadMigrations();
  const latest = migrations.length;
  if (target.schema) {
    // Before anything else: the schema must exist for search_path to find it. Created under a lock: two openers, one CREATE.
    const [found] = await sql.unsafe("SELECT 1 FROM pg_namespace WHERE nspname = $1", [target.schema]);
    if (!found && !options.create) throw notInitialized(target);
    if (!found) {
      await sql.begin(async (tx) => {
        await tx.unsafe("SELECT pg_advisory_xact_lock($1)", [lockKey(`farcaster.schema:${target.schema}`)]);
        await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${target.schema}`);
      });
    }
  }
  const schema = await currentSchema(sql);
  if (!schema) throw new UsageError(`no schema to create tables in at ${target.label}: name one with ?schema=NAME in the URL`);
  const key = lockKey(`farcaster.migrations:${schema}`);
  let version = await currentVersion(sql);
  if (version > latest) throw new DatabaseTooNewError(target.label, version, latest);
  if (version === 0 && !options.create) throw notInitialized(target);
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe("SELECT pg_advisory_xact_lock($1)", [key]);
        await tx.unsafe(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          applied_at bigint NOT NULL
        )`);
        const applied = await currentVersion(tx);
        if (applied > latest) throw new DatabaseTooNewError(target.label, applied, latest);
        if (applied >= migration.version) return; // another opener got here first
        await tx.unsafe(migration.sql);
        await tx.unsafe("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.name, now()]);
      });
    } catch (error) {
      if (error instanceof DatabaseTooNewError || isConnectionError(error)) throw error;
      throw new MigrationError(migration.name, error);
    }
    version = migration.version;
  }
  return { schema, version: latest };
}

/** A reader never migrates: the schema must be at the code's version exactly. */
export async function checkVersion(sql: SQL, target: PgTarget, migrations = loadMigrations()): Promise<SchemaInfo> {
  const latest = migrations.length;
  if (target.schema) {
    const [found] = await sql.unsafe("SELECT 1 FROM pg_namespace WHERE nspname = $1", [target.schema]);
    if (!found) throw notInitialized(target);
  }
  const schema = await currentSchema(sql);
  const version = await currentVersion(sql);
  if (version === 0) throw notInitialized(target);
  if (version > latest) throw new DatabaseTooNewError(target.label, version, latest);
  if (version < latest) throw new DatabaseTooOldError(target.label, version, latest);
  return { schema: schema!, version };
}

function notInitialized(target: PgTarget): NotFoundError {
  return new NotFoundError("database", target.label, "it has no Farcaster tables yet: start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database");
}
