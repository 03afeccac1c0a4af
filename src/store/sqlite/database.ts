/**
 * Opening a SQLite database: the PRAGMAs, chosen on purpose, and the migrations.
 *
 * - journal_mode=WAL: readers never block the writer and vice versa; a commit
 *   appends to the WAL instead of rewriting pages.
 * - synchronous=NORMAL (default): in WAL mode a commit is durable against a
 *   process crash (SIGKILL), and the database can never be corrupted; a power
 *   loss may roll back the last few commits. FULL (`--sync full`,
 *   FARCASTER_SYNC=full) fsyncs every commit for power-loss durability, at a
 *   large cost in write throughput.
 * - foreign_keys=ON: tasks, edges, attempts and steps cannot point at nothing.
 * - busy_timeout=0: we do not let SQLite's busy handler wait for the write
 *   lock. Its back-off sleeps grow to 100 ms, so under contention the process
 *   that just committed wins again and again and others starve. The store
 *   retries BEGIN IMMEDIATE itself with short, jittered waits (see writeLock.ts).
 *   Reads in WAL mode do not take the write lock and are retried the same way
 *   in the rare case they see SQLITE_BUSY (WAL recovery).
 *
 * Opening meets locks too: while another process recovers a crashed writer's
 * WAL (SQLITE_BUSY_RECOVERY), checkpoints it on close, or migrates. So the
 * connection's busy handling (busy_timeout=0) is set before any statement
 * that touches the file, and every step of opening that can meet a lock is
 * retried the same way, within OPEN_BUSY_TIMEOUT_MS for the whole open, then
 * StoreBusyError ("store_busy") naming the file.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseTooNewError, DatabaseTooOldError, DatabaseUnusableError, MigrationError, NotFoundError, UsageError } from "../../core/errors.ts";
import { busyDeadline, retryWhileBusySync, type BusyDeadline } from "./writeLock.ts";

export type SyncMode = "normal" | "full";

export interface OpenOptions {
  sync?: SyncMode;
  /** Directory of numbered .sql files; defaults to the repository's migrations/sqlite. */
  migrationsDir?: string;
  /** Clock for the bookkeeping rows. */
  now?: () => number;
  /** How long opening may wait for other processes' locks in all (default OPEN_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
}

/** How long opening a database waits for another process's lock before it gives up. */
export const OPEN_BUSY_TIMEOUT_MS = 10_000;

export const MIGRATIONS_DIR = join(import.meta.dir, "..", "..", "..", "migrations", "sqlite");

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

export function openDatabase(path: string, options: OpenOptions = {}): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const deadline = busyDeadline(options.busyTimeoutMs ?? OPEN_BUSY_TIMEOUT_MS, `opening ${path}`);
  const db = unusableAs(path, () => retryWhileBusySync(() => new Database(path, { create: true, strict: true }), deadline));
  try {
    // Busy handling comes first: even setting the journal mode meets a lock while another
    // process closes (its last checkpoint) or recovers a crashed writer's WAL.
    db.run("PRAGMA busy_timeout = 0");
    // Before anything is written: a file that is not a database, or is another program's, is left as it was.
    unusableAs(path, () => retryWhileBusySync(() => refuseForeignSchema(db, path), deadline));
    retryWhileBusySync(() => db.run("PRAGMA journal_mode = WAL"), deadline);
    db.run(`PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    db.run("PRAGMA foreign_keys = ON");
    migrate(db, path, loadMigrations(options.migrationsDir), options.now ?? Date.now, deadline);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * A connection for a reader (status, the dashboard): it never migrates and
 * never writes, so it can watch a database other processes are working on.
 * It refuses a database at another schema version than the code's, since its
 * reads would not mean what the code thinks. WAL readers never block the
 * writer; a reader only meets SQLITE_BUSY while a crashed writer's WAL is
 * recovered (or the last connection checkpoints on close), and retries then
 * as openDatabase does.
 */
export function openReadOnlyDatabase(path: string, options: Pick<OpenOptions, "migrationsDir" | "busyTimeoutMs"> = {}): Database {
  if (path === ":memory:" || !existsSync(path)) {
    throw new NotFoundError("database", path, "start a run first (farcaster GOAL.md), or point --db / FARCASTER_DB at an existing database");
  }
  const deadline = busyDeadline(options.busyTimeoutMs ?? OPEN_BUSY_TIMEOUT_MS, `opening ${path}`);
  const db = unusableAs(path, () => retryWhileBusySync(() => new Database(path, { readonly: true, strict: true }), deadline));
  try {
    db.run("PRAGMA busy_timeout = 0");
    const migrated = unusableAs(path, () => retryWhileBusySync(() => refuseForeignSchema(db, path), deadline));
    const latest = loadMigrations(options.migrationsDir).length;
    const current = migrated ? retryWhileBusySync(() => schemaVersion(db), deadline) : 0;
    if (current > latest) throw new DatabaseTooNewError(path, current, latest);
    if (current < latest) throw new DatabaseTooOldError(path, current, latest);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * SQLite's answers for a file it cannot use, as the user can act on them
 * (bun:sqlite's own messages name neither the file nor a fix). SQLITE_BUSY
 * is not among them: it is retried by the caller.
 */
const UNUSABLE: Record<string, string> = {
  SQLITE_NOTADB: "is not a SQLite database; point --db (or FARCASTER_DB) at a Farcaster database, or at a new file name",
  SQLITE_CORRUPT: "is damaged (its pages do not make a SQLite database); restore it from a copy, or start over with a new file",
  SQLITE_CANTOPEN: "cannot be opened: check that it is a file (not a directory) and that you may read and write it and its directory",
  SQLITE_IOERR: "could not be read or written (an I/O error): check that it is a file on a disk with room, not a directory",
  SQLITE_READONLY: "is read-only for this process: check the permissions of the file and of its directory",
  SQLITE_PERM: "may not be opened by this process: check the permissions of the file and of its directory",
};

function unusableAs<T>(path: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? "");
    // Extended codes name their primary one first: SQLITE_IOERR_READ is an SQLITE_IOERR.
    const problem = UNUSABLE[code] ?? Object.entries(UNUSABLE).find(([primary]) => code.startsWith(`${primary}_`))?.[1];
    if (problem) throw new DatabaseUnusableError(path, problem, { cause: error });
    throw error;
  }
}

/**
 * A file with tables and no schema_migrations belongs to another program:
 * migrating it would change it. Returns whether schema_migrations is there
 * (false: an empty file, which migrating makes a Farcaster database).
 */
function refuseForeignSchema(db: Database, path: string): boolean {
  const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
  const migrated = tables.some((table) => table.name === "schema_migrations");
  if (tables.length > 0 && !migrated) {
    throw new DatabaseUnusableError(path, `holds another program's tables (${tables.slice(0, 3).map((table) => table.name).join(", ")}${tables.length > 3 ? ", …" : ""}) and none of Farcaster's; point --db (or FARCASTER_DB) at a file of its own`);
  }
  return migrated;
}

export function schemaVersion(db: Database): number {
  const row = db.query<{ version: number | null }, []>("SELECT max(version) AS version FROM schema_migrations").get();
  return row?.version ?? 0;
}

/**
 * Applies pending migrations in order, each in its own IMMEDIATE transaction
 * with its bookkeeping row, so a crash leaves the database at a whole version.
 * Two processes opening a fresh file at once serialize on the write lock and
 * the second one finds nothing left to do.
 *
 * A migration whose first line is FOREIGN_KEYS_OFF rebuilds tables (SQLite
 * cannot change a CHECK constraint in place): it runs with foreign keys off,
 * as SQLite's own procedure for that requires (the pragma is a no-op inside a
 * transaction, so it is set around it), and `PRAGMA foreign_key_check` must
 * find nothing before it commits.
 */
export const FOREIGN_KEYS_OFF = "-- farcaster: foreign keys off";

export function migrate(db: Database, path: string, migrations: Migration[], now: () => number, deadline: BusyDeadline = busyDeadline(OPEN_BUSY_TIMEOUT_MS, `migrating ${path}`)): void {
  retryWhileBusySync(() => db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`), deadline);
  const latest = migrations.length;
  const current = retryWhileBusySync(() => schemaVersion(db), deadline);
  if (current > latest) throw new DatabaseTooNewError(path, current, latest);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    const rebuild = migration.sql.startsWith(FOREIGN_KEYS_OFF);
    if (rebuild) db.run("PRAGMA foreign_keys = OFF");
    // The write lock is taken here, so nothing inside the transaction can be busy.
    retryWhileBusySync(() => db.run("BEGIN IMMEDIATE"), deadline);
    try {
      if (schemaVersion(db) >= migration.version) {
        db.run("COMMIT");
        continue;
      }
      db.run(migration.sql);
      if (rebuild) {
        const broken = db.query<{ table: string; parent: string }, []>("PRAGMA foreign_key_check").all();
        if (broken.length > 0) throw new Error(`it would leave ${broken.length} row(s) pointing at nothing (first: ${broken[0]!.table} -> ${broken[0]!.parent})`);
      }
      db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(migration.version, migration.name, now());
      db.run("COMMIT");
    } catch (error) {
      if (db.inTransaction) db.run("ROLLBACK");
      throw new MigrationError(migration.name, error);
    } finally {
      if (rebuild) db.run("PRAGMA foreign_keys = ON");
    }
  }
}

export function parseSyncMode(value: string | undefined): SyncMode {
  if (value === undefined || value === "" || value.toLowerCase() === "normal") return "normal";
  if (value.toLowerCase() === "full") return "full";
  throw new UsageError(`synchronous mode must be "normal" or "full" (got "${value}" from --sync or FARCASTER_SYNC)`);
}
