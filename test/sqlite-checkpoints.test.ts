/**
 * The SQLite store's checkpoints: a worker thread (src/store/sqlite/checkpoints.ts)
 * instead of SQLite's auto-checkpoint keeps the WAL bounded, and close removes it.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { WAL_RESTART_PAGES, WAL_SIZE_LIMIT_BYTES } from "../src/store/sqlite/checkpoints.ts";
import { freshRealTimeStore, freshStore, openTestStore, plan } from "./helpers.ts";

describe("checkpoints", () => {
  test("store connections leave checkpoints to the store", () => {
    const { store } = freshStore();
    expect(store.db.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint).toBe(0);
  });

  test("a long stream of claims and completions keeps the WAL bounded, and close removes it", async () => {
    const { store, path } = freshRealTimeStore();
    const chains = 20;
    const tasks = Array.from({ length: 3_000 }, (_, i) => ({
      id: `t${i}`,
      title: `t${i}`,
      workflow: "noop",
      after: i < chains ? [] : [`t${i - chains}`],
    }));
    await store.createRun({ goal: "many", tasks });
    for (const _ of tasks) {
      const [task] = await store.claimTasks("w", 1, 60_000);
      await store.completeTask(task!.taskId, task!.attemptId, null);
    }
    // These 6,000 commits write tens of thousands of WAL frames: the WAL must have been restarted since.
    const frames = store.db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!.log;
    expect(frames).toBeLessThan(WAL_RESTART_PAGES * 4);
    expect(statSync(`${path}-wal`).size).toBeLessThan(WAL_SIZE_LIMIT_BYTES * 1.5); // journal_size_limit truncates it on a restart
    expect((await store.listRuns())[0]!.state).toBe("succeeded");
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  }, 60_000);

  test("a closed store has closed its file even before garbage collection", async () => {
    const { store, path } = freshRealTimeStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.completeTask(a!.taskId, a!.attemptId, null);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = openTestStore(path);
    expect((await reopened.listRuns())[0]!.state).toBe("succeeded");
    await reopened.close();
  });
});
