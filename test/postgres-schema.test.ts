/**
 * The PostgreSQL schema: its migrations are frozen once shipped (a hash lock,
 * as for SQLite), applied each in its own transaction with its bookkeeping
 * row, serialised between concurrent openers, refused when the database is
 * newer than the code; and every CHECK of a closed set lists exactly the
 * values of its TypeScript constant.
 * After adding a migration: UPDATE_SCHEMA_SNAPSHOT=1 bun test test/postgres-schema.test.ts
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rejected } from "./helpers.ts";
import { DatabaseTooNewError, DatabaseTooOldError, MigrationError, NotFoundError } from "../src/core/errors.ts";
import {
  ATTEMPT_STATES,
  CATCH_UP_POLICIES,
  FAIL_REASONS,
  FIRE_OUTCOMES,
  GATE_STATES,
  GATE_TIMEOUT_ACTIONS,
  LOG_STREAMS,
  REJECT_ACTIONS,
  RUN_STATES,
  SCHEDULE_OVERLAPS,
  SCHEDULE_TARGET_KINDS,
  STEP_STATUSES,
  TASK_STATES,
} from "../src/core/states.ts";
import { loadMigrations } from "../src/store/postgres/database.ts";
import { PostgresStore } from "../src/store/postgres/store.ts";
import { dropSchema, freshSchema, migratedSchema, openPgStore, pgAdmin, pgAvailable, pgUrl } from "./fixtures/pg.ts";
import { trackStore } from "./fixtures/stores.ts";

const LOCK = join(import.meta.dir, "fixtures", "schema", "postgres-migrations.lock");
const UPDATE = process.env.UPDATE_SCHEMA_SNAPSHOT === "1";

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

describe("shipped PostgreSQL migrations are frozen", () => {
  test("no migration in the lock has changed since it shipped, and every migration is in the lock", () => {
    const lock = new Map(existsSync(LOCK) ? readFileSync(LOCK, "utf8").split("\n").filter(Boolean).map((line) => line.split(/\s+/) as [string, string]) : []);
    const migrations = loadMigrations();
    for (const migration of migrations) {
      const locked = lock.get(migration.name);
      if (locked === undefined && UPDATE) lock.set(migration.name, sha256(migration.sql));
      else if (locked === undefined) throw new Error(`${migration.name} is not in ${LOCK}; run UPDATE_SCHEMA_SNAPSHOT=1 bun test test/postgres-schema.test.ts`);
      else expect({ file: migration.name, hash: sha256(migration.sql) }).toEqual({ file: migration.name, hash: locked });
    }
    expect([...lock.keys()]).toEqual(migrations.map((m) => m.name));
    if (UPDATE) writeFileSync(LOCK, [...lock].map(([name, hash]) => `${name} ${hash}`).join("\n") + "\n");
  });
});

const CONSTANTS: Record<string, readonly string[]> = {
  "runs.state": RUN_STATES,
  "tasks.state": TASK_STATES,
  "tasks.fail_reason": FAIL_REASONS,
  "attempts.state": ATTEMPT_STATES,
  "steps.status": STEP_STATUSES,
  "gates.state": GATE_STATES,
  "gates.action": REJECT_ACTIONS,
  "gates.on_timeout": GATE_TIMEOUT_ACTIONS,
  "task_logs.stream": LOG_STREAMS,
  "schedules.target_kind": SCHEDULE_TARGET_KINDS,
  "schedules.overlap": SCHEDULE_OVERLAPS,
  "schedules.catch_up": CATCH_UP_POLICIES,
  "schedule_fires.outcome": FIRE_OUTCOMES,
};

describe.skipIf(!pgAvailable)("the PostgreSQL schema", () => {
  test("every CHECK constraint of a closed set lists exactly the values of its TypeScript constant", async () => {
    const schema = await migratedSchema();
    try {
      const rows = await pgAdmin().unsafe<{ table: string; def: string }[]>(
        `SELECT c.conrelid::regclass::text AS table, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 AND c.contype = 'c'`,
        [schema],
      );
      const sets = new Map<string, string[]>();
      for (const row of rows) {
        // PostgreSQL prints `state IN ('a','b')` as `(state = ANY (ARRAY['a'::text, 'b'::text]))`.
        const match = /^CHECK \(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)$/.exec(row.def);
        if (match) sets.set(`${row.table.replace(/^.*\./, "")}.${match[1]}`, [...match[2]!.matchAll(/'([^']*)'::text/g)].map((m) => m[1]!));
      }
      expect([...sets.keys()].sort()).toEqual(Object.keys(CONSTANTS).sort());
      for (const [column, values] of sets) expect({ column, values }).toEqual({ column, values: [...CONSTANTS[column]!] });
    } finally {
      await dropSchema(schema);
    }
  });

  test("opening a fresh schema applies every migration, each with its bookkeeping row; reopening applies nothing", async () => {
    const schema = await freshSchema();
    try {
      await (await openPgStore(schema)).close();
      const rows = await pgAdmin().unsafe<{ version: number; name: string }[]>(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
      expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
      await (await openPgStore(schema)).close();
      expect(await pgAdmin().unsafe(`SELECT version FROM ${schema}.schema_migrations`)).toHaveLength(loadMigrations().length);
    } finally {
      await dropSchema(schema);
    }
  });

  test("a schema named in the URL that does not exist yet is created by the first store that writes, never by a reader", async () => {
    const schema = `fct_new_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    try {
      expect(await rejected(PostgresStore.open(pgUrl(schema), { readOnly: true }))).toBeInstanceOf(NotFoundError);
      expect(await rejected(PostgresStore.open(pgUrl(schema), { access: "existing" }))).toBeInstanceOf(NotFoundError);
      expect(await pgAdmin().unsafe("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).toHaveLength(0);
      const store = trackStore(await PostgresStore.open(pgUrl(schema)));
      expect(store.schema).toBe(schema);
      await store.close();
    } finally {
      await dropSchema(schema);
    }
  });

  test("claims draw attempt ids from the attempts table's own sequence, whatever name it got", async () => {
    const schema = await freshSchema();
    try {
      // A schema that already holds something named attempts_id_seq: the identity's sequence is named otherwise.
      await pgAdmin().unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE SEQUENCE ${schema}.attempts_id_seq START 500`);
      const store = await openPgStore(schema);
      const [sequence] = await pgAdmin().unsafe<{ own: string }[]>(`SELECT pg_get_serial_sequence('${schema}.attempts', 'id') AS own`);
      expect(sequence!.own).not.toBe(`${schema}.attempts_id_seq`);
      await store.createRun({ version: 1, goal: "g", tasks: [{ id: "a", title: "a", workflow: "w" }, { id: "b", title: "b", workflow: "w" }] });
      const claimed = await store.claimTasks("w1", 2, 10_000);
      expect(claimed.map((c) => c.attemptId).sort()).toEqual([1, 2]);
      const [other] = await pgAdmin().unsafe<{ untouched: boolean }[]>(`SELECT NOT is_called AS untouched FROM ${schema}.attempts_id_seq`);
      expect(other!.untouched).toBe(true);
      await store.close();
    } finally {
      await dropSchema(schema);
    }
  });

  test("an attempt's end is written in place (HOT): completions add no index entries for it", async () => {
    const schema = await migratedSchema();
    try {
      const store = await openPgStore(schema);
      const tasks = Array.from({ length: 300 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "w" }));
      await store.createRun({ version: 1, goal: "g", tasks });
      // Claimed and completed in batches, as a drone does: the claim fills pages with attempt rows, the ends follow.
      for (let done = 0; done < tasks.length; ) {
        const claimed = await store.claimTasks("w1", 128, 60_000);
        if (claimed.length === 0) throw new Error(`nothing left to claim after ${done} of ${tasks.length}`);
        await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, { ok: true })));
        done += claimed.length;
      }
      await store.close(); // its backends exit and flush their statistics
      const counts = async () =>
        (await pgAdmin().unsafe<{ upd: string; hot: string }[]>("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'attempts'", [schema]))[0]!;
      const deadline = Date.now() + 10_000;
      while (Number((await counts()).upd) < tasks.length && Date.now() < deadline) await Bun.sleep(20);
      const { upd, hot } = await counts();
      expect(Number(upd)).toBe(tasks.length);
      expect(Number(hot)).toBe(tasks.length);
    } finally {
      await dropSchema(schema);
    }
  });

  test("openers racing on a fresh schema apply each migration once", async () => {
    const schema = await freshSchema();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => openPgStore(schema)));
      for (const store of stores) await store.close();
      expect(await pgAdmin().unsafe(`SELECT version FROM ${schema}.schema_migrations`)).toHaveLength(loadMigrations().length);
    } finally {
      await dropSchema(schema);
    }
  });

  test("a database newer than the code is refused with a message that says so, by writers and readers", async () => {
    const schema = await migratedSchema();
    try {
      await pgAdmin().unsafe(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`);
      for (const options of [{}, { readOnly: true }]) {
        const error = await rejected(PostgresStore.open(pgUrl(schema), options));
        expect(error).toBeInstanceOf(DatabaseTooNewError);
        expect(error.message).toContain(`is at schema version 999, but this farcaster only knows migrations up to ${loadMigrations().length}`);
      }
    } finally {
      await dropSchema(schema);
    }
  });

  test("a failing migration is rolled back whole and the schema stays at the previous version; a reader refuses it as too old", async () => {
    const schema = await migratedSchema();
    try {
      const broken = [...loadMigrations(), { version: loadMigrations().length + 1, name: "0099_broken.sql", sql: "CREATE TABLE half_done (x integer); THIS IS NOT SQL;" }];
      expect(await rejected(PostgresStore.open(pgUrl(schema), { migrations: broken }))).toBeInstanceOf(MigrationError);
      expect(await pgAdmin().unsafe("SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'half_done'", [schema])).toHaveLength(0);
      expect(await pgAdmin().unsafe(`SELECT version FROM ${schema}.schema_migrations`)).toHaveLength(loadMigrations().length);
      expect(await rejected(PostgresStore.open(pgUrl(schema), { readOnly: true, migrations: broken }))).toBeInstanceOf(DatabaseTooOldError);
    } finally {
      await dropSchema(schema);
    }
  });

  test("the database refuses a state outside its set, and a task pointing at no run", async () => {
    const schema = await migratedSchema();
    try {
      const store = await openPgStore(schema);
      const run = await store.createRun({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop" }] });
      await store.close();
      const refusal = (statement: string) => pgAdmin().unsafe(statement, [run.id]).then(() => "accepted", (error: { errno?: string }) => error.errno);
      expect(await refusal(`UPDATE ${schema}.tasks SET state = 'done' WHERE run_id = $1`)).toBe("23514");
      expect(await refusal(`UPDATE ${schema}.runs SET state = 'paused' WHERE id = $1`)).toBe("23514");
      expect(await refusal(`INSERT INTO ${schema}.tasks (run_id, key, title, workflow, input, state, available_at, created_at, updated_at) VALUES ($1 || 'x','k','t','w','{}','ready',0,0,0)`)).toBe("23503");
    } finally {
      await dropSchema(schema);
    }
  });
});
