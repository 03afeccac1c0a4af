import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseTooNewError, MigrationError } from "../src/core/errors.ts";
import { loadMigrations, MIGRATIONS_DIR, openDatabase, schemaVersion } from "../src/store/sqlite/database.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { freshDir, freshStore, plan, openTestStore } from "./helpers.ts";

describe("migrations", () => {
  test("opening a new file applies every migration, each with its bookkeeping row", () => {
    const db = openDatabase(join(freshDir(), "new.db"));
    const rows = db.query<{ version: number; name: string }, []>("SELECT version, name FROM schema_migrations ORDER BY version").all();
    expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
    expect(schemaVersion(db)).toBe(loadMigrations().length);
    db.close();
  });

  test("reopening an up-to-date database applies nothing and keeps the data", async () => {
    const { store, path } = freshStore();
    const run = await store.createRun(plan(["a"]));
    await store.close();
    const reopened = openTestStore(path);
    expect((await reopened.getRun(run.id)).id).toBe(run.id);
    expect(reopened.db.query<{ n: number }, []>("SELECT count(*) AS n FROM schema_migrations").get()!.n).toBe(loadMigrations().length);
    await reopened.close();
  });

  test("a database newer than the code is refused with a message that says so", () => {
    const path = join(freshDir(), "future.db");
    const db = openDatabase(path);
    db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)").run();
    db.close();
    expect(() => openDatabase(path)).toThrow(DatabaseTooNewError);
    expect(() => openDatabase(path)).toThrow(`is at schema version 999, but this farcaster only knows migrations up to ${loadMigrations().length}`);
  });

  test("a failing migration is rolled back whole and the database stays at the previous version", () => {
    const dir = freshDir();
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const next = String(loadMigrations().length + 1).padStart(4, "0");
    writeFileSync(join(dir, `${next}_broken.sql`), "CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;");
    const path = join(freshDir(), "broken.db");
    expect(() => openDatabase(path, { migrationsDir: dir })).toThrow(MigrationError);
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(loadMigrations().length);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeNull();
    db.close();
  });

  test("migration files must be numbered without gaps", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 1;");
    writeFileSync(join(dir, "0003_c.sql"), "SELECT 1;");
    expect(() => loadMigrations(dir)).toThrow("must be numbered 0001, 0002, … without gaps; found 0003_c.sql at position 2");
  });

  test("the PRAGMAs are set on purpose: WAL, foreign keys, NORMAL sync by default and FULL on request", () => {
    const path = join(freshDir(), "p.db");
    const db = openDatabase(path);
    expect(db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()!.journal_mode).toBe("wal");
    expect(db.query<{ foreign_keys: number }, []>("PRAGMA foreign_keys").get()!.foreign_keys).toBe(1);
    expect(db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous).toBe(1);
    expect(db.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()!.timeout).toBe(0);
    db.close();
    const full = openDatabase(path, { sync: "full" });
    expect(full.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous).toBe(2);
    full.close();
  });
});

describe("closed state sets", () => {
  test("the database refuses a state outside the set, and a task pointing at no run", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"]));
    expect(() => store.db.query("UPDATE tasks SET state = 'done' WHERE run_id = ?").run(run.id)).toThrow(/CHECK constraint/);
    expect(() => store.db.query("UPDATE runs SET state = 'paused' WHERE id = ?").run(run.id)).toThrow(/CHECK constraint/);
    expect(() =>
      store.db
        .query("INSERT INTO tasks (run_id, key, title, workflow, input, state, available_at, created_at, updated_at) VALUES ('nope','k','t','w','{}','ready',0,0,0)")
        .run(),
    ).toThrow(/FOREIGN KEY/);
  });
});

describe("opening under contention", () => {
  test("opening waits for another connection's exclusive lock instead of failing at once", async () => {
    const path = join(freshDir(), "busy.db");
    openDatabase(path).close();
    // Like a process closing (its last checkpoint) or recovering a crashed writer's WAL: nobody else may even read.
    const holder = new Database(path);
    holder.run("PRAGMA locking_mode = EXCLUSIVE");
    holder.run("BEGIN EXCLUSIVE");
    holder.run("CREATE TABLE held (x INTEGER)");
    const opening = Bun.spawn([process.execPath, "-e", `import { openDatabase } from ${JSON.stringify(join(import.meta.dir, "..", "src", "store", "sqlite", "database.ts"))}; openDatabase(${JSON.stringify(path)}).close(); console.log("opened");`], { stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(300); // the other process holds the lock a while (simulated work)
    holder.run("COMMIT");
    holder.close();
    expect(await opening.exited).toBe(0);
    expect(await new Response(opening.stdout).text()).toBe("opened\n");
  });
});

describe("rebuilding tables (0005: gate and fail-reason sets grow)", () => {
  test("a database with work in it at version 4 keeps every row and reference, and accepts the new states", async () => {
    // A database as version 4 of the schema left it, with a run that has tasks, edges, attempts, a journal and a gate.
    const oldDir = freshDir();
    for (const migration of loadMigrations().filter((m) => m.version <= 4)) cpSync(join(MIGRATIONS_DIR, migration.name), join(oldDir, migration.name));
    const path = join(freshDir(), "v4.db");
    const old = openDatabase(path, { migrationsDir: oldDir });
    old.run("INSERT INTO runs (id, state, tasks_total, tasks_open, created_at, updated_at) VALUES ('r1', 'running', 2, 2, 1, 1)");
    old.run("INSERT INTO run_plans (run_id, goal) VALUES ('r1', 'g')");
    old.run("INSERT INTO tasks (id, run_id, key, title, workflow, input, state, available_at, created_at, updated_at, spent_turns) VALUES (1, 'r1', 'a', 'A', 'review', '{}', 'waiting', 1, 1, 1, 3)");
    old.run("INSERT INTO tasks (id, run_id, key, title, workflow, input, state, pending_deps, available_at, created_at, updated_at) VALUES (2, 'r1', 'b', 'B', 'noop', '{}', 'blocked', 1, 1, 1, 1)");
    old.run("INSERT INTO task_deps (task_id, depends_on) VALUES (2, 1)");
    old.run("INSERT INTO attempts (id, task_id, number, worker, state, started_at, heartbeat_at) VALUES (7, 1, 1, 'w', 'suspended', 1, 1)");
    old.run("INSERT INTO steps (task_id, key, seq, kind, attempt_id, status, started_at) VALUES (1, 'review', 1, 'approval', 7, 'waiting', 1)");
    old.run("INSERT INTO gates (id, run_id, task_id, step_key, question, state, created_at) VALUES ('g1', 'r1', 1, 'review', 'ok?', 'pending', 1)");
    old.close();

    const store = openTestStore(path); // migrates to the latest version
    const tasks = await store.listTasks("r1");
    expect(tasks.map((t) => [t.id, t.key, t.state, t.after])).toEqual([[1, "a", "waiting", []], [2, "b", "blocked", ["a"]]]);
    expect(await store.listSteps(1)).toHaveLength(1);
    expect((await store.listAttempts(1)).map((a) => a.id)).toEqual([7]);
    expect(await store.getGate("g1")).toMatchObject({ runId: "r1", taskId: 1, state: "pending", question: "ok?" });
    expect(await store.runModelUsage("r1")).toMatchObject({ turns: 3 }); // spent usage kept
    const db = store.db;
    expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
    expect(db.query<{ foreign_keys: number }, []>("PRAGMA foreign_keys").get()!.foreign_keys).toBe(1);
    db.run("UPDATE gates SET state = 'cancelled' WHERE id = 'g1'");
    db.run("UPDATE tasks SET state = 'failed', fail_reason = 'rejected' WHERE id = 1");
    expect(() => db.run("INSERT INTO tasks (run_id, key, title, workflow, input, state, available_at, created_at, updated_at) VALUES ('nope', 'k', 't', 'w', '{}', 'ready', 0, 0, 0)")).toThrow(/FOREIGN KEY/);
  });
});
