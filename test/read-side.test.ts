/** The SQLite store's read side: read-only opening, snapshots, and following what other processes commit. */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseTooNewError, DatabaseTooOldError, NotFoundError, ReadOnlyStoreError } from "../src/core/errors.ts";
import { MIGRATIONS_DIR, openDatabase, schemaVersion } from "../src/store/sqlite/database.ts";
import { farcaster, query } from "./cli-helpers.ts";
import { freshDir, freshRealTimeStore, openTestStore, plan, until, rejected } from "./helpers.ts";

function tableCount(path: string): number {
  return query<{ n: number }>(path, "SELECT count(*) AS n FROM sqlite_schema")[0]!.n;
}

describe("a read-only store", () => {
  test("reads what writers wrote, and every write is refused before it touches the file", async () => {
    const { store: writer, path } = freshRealTimeStore();
    const run = await writer.createRun(plan(["a"]));
    await writer.close();
    const before = statSync(path).mtimeMs;
    const reader = openTestStore(path, { readOnly: true });
    expect(reader.readOnly).toBe(true);
    expect((await reader.getRun(run.id)).state).toBe("running");
    expect(await rejected(reader.claimTasks("w", 1, 1_000))).toBeInstanceOf(ReadOnlyStoreError);
    expect((await rejected(reader.createRun(plan(["b"])))).message).toContain("creating a run needs to write, but this store was opened read-only");
    expect(await rejected(reader.cancelRun(run.id))).toBeInstanceOf(ReadOnlyStoreError);
    expect(statSync(path).mtimeMs).toBe(before);
  });

  test("never creates or migrates a database: a missing file, an older and a newer schema are refused", () => {
    expect(() => openTestStore(join(freshDir(), "none.db"), { readOnly: true })).toThrow(NotFoundError);

    // A database at schema version 1 only, as an older farcaster left it.
    const oldDir = freshDir();
    cpSync(join(MIGRATIONS_DIR, "0001_init.sql"), join(oldDir, "0001_init.sql"));
    const oldPath = join(freshDir(), "old.db");
    openDatabase(oldPath, { migrationsDir: oldDir }).close();
    const tables = tableCount(oldPath);
    expect(() => openTestStore(oldPath, { readOnly: true })).toThrow(DatabaseTooOldError);
    expect(() => openTestStore(oldPath, { readOnly: true })).toThrow("a read-only command does not upgrade it");
    const db = new Database(oldPath, { readonly: true });
    expect(schemaVersion(db)).toBe(1);
    db.close();
    expect(tableCount(oldPath)).toBe(tables);

    const newPath = join(freshDir(), "new.db");
    const future = openDatabase(newPath);
    future.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)");
    future.close();
    expect(() => openTestStore(newPath, { readOnly: true })).toThrow(DatabaseTooNewError);
  });

  test("`farcaster status` reads without migrating: an older database is refused with the way forward, and left as it was", async () => {
    const dir = freshDir();
    const oldDir = join(dir, "migrations");
    mkdirSync(oldDir);
    cpSync(join(MIGRATIONS_DIR, "0001_init.sql"), join(oldDir, "0001_init.sql"));
    const path = join(dir, "old.db");
    openDatabase(path, { migrationsDir: oldDir }).close();
    const result = await farcaster(["status", "--db", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is at schema version 1, and this farcaster needs");
    expect(result.stderr).toContain("[database_too_old]");
    expect(query<{ v: number }>(path, "SELECT max(version) AS v FROM schema_migrations")[0]!.v).toBe(1);
  });
});

describe("following and snapshots", () => {
  test("a follower on a read-only connection sees another process's commits without being told", async () => {
    const { store: writer, path } = freshRealTimeStore();
    const run = await writer.createRun(plan(["a"]));
    const reader = openTestStore(path, { readOnly: true });
    const seen: string[] = [];
    const stop = new AbortController();
    const following = (async () => {
      for await (const event of reader.followEvents({ runId: run.id, signal: stop.signal })) {
        seen.push(event.type);
        if (event.type === "run.succeeded") stop.abort();
      }
    })();
    const [claim] = await writer.claimTasks("w", 1, 10_000);
    await writer.completeTask(claim!.taskId, claim!.attemptId, "done");
    await following;
    expect(seen).toEqual(["run.created", "task.started", "task.succeeded", "run.succeeded"]);
  });

  test("`until` ends a follower once it holds, after what was written before is read", async () => {
    const { store } = freshRealTimeStore();
    const run = await store.createRun(plan(["a"], ["b", "a"]));
    let ended = false;
    const seen: string[] = [];
    const following = (async () => {
      for await (const event of store.followEvents({ runId: run.id, until: () => ended })) seen.push(event.type);
    })();
    const [a] = await store.claimTasks("w", 1, 10_000);
    await store.completeTask(a!.taskId, a!.attemptId, 1);
    const [b] = await store.claimTasks("w", 1, 10_000);
    await store.completeTask(b!.taskId, b!.attemptId, 2);
    ended = true;
    await following;
    expect(seen).toEqual(["run.created", "task.started", "task.succeeded", "task.started", "task.succeeded", "run.succeeded"]);
  });

  test("logs are followed the same way, and a closed store ends its followers", async () => {
    const { store } = freshRealTimeStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 10_000);
    const texts: string[] = [];
    const following = (async () => {
      try {
        for await (const entry of store.followLogs(a!.taskId)) texts.push(entry.text);
      } catch (error) {
        texts.push(`ended: ${(error as Error).constructor.name}`);
      }
    })();
    await store.appendLogs(a!.taskId, a!.attemptId, [{ stream: "stdout", text: "one\n" }]);
    await store.appendLogs(a!.taskId, a!.attemptId, [{ stream: "stderr", text: "two\n" }]);
    await until(() => texts.length >= 2, 5_000, "both log entries");
    await store.close();
    await following;
    expect(texts.slice(0, 2)).toEqual(["one\n", "two\n"]);
    expect(texts).toHaveLength(3); // the read after close fails: the follower ends instead of hanging
  });

  test("readRun returns the run, its tasks and gates, and the events after a cursor, as one snapshot", async () => {
    const { store } = freshRealTimeStore();
    const run = await store.createRun(plan(["a"], ["b", "a"]));
    const [a] = await store.claimTasks("w", 1, 10_000);
    await store.completeTask(a!.taskId, a!.attemptId, 1);
    const all = await store.readRun(run.id, { eventsAfter: 0 });
    expect(all.run.tasksOpen).toBe(1);
    expect(all.tasks.map((t) => [t.key, t.state])).toEqual([["a", "succeeded"], ["b", "ready"]]);
    expect(all.events.map((e) => e.type)).toEqual(["run.created", "task.started", "task.succeeded"]);
    const later = await store.readRun(run.id, { eventsAfter: all.events[1]!.id });
    expect(later.events.map((e) => e.type)).toEqual(["task.succeeded"]);
    expect((await store.readRun(run.id)).events).toEqual([]);
  });
});
