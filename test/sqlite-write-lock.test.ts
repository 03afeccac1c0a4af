/**
 * The SQLite store's write path: one BEGIN IMMEDIATE transaction per write,
 * taken fairly across processes by retrying BEGIN (src/store/sqlite/writeLock.ts),
 * and never nested on one connection however many writes of a process run at once.
 */
import { rejected } from "./helpers.ts";
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { freshStore, plan } from "./helpers.ts";

const many = (n: number) => plan(...Array.from({ length: n }, (_, i) => [`t${i}`] as [string]));

describe("the write lock", () => {
  test("many concurrent writes of one process wait out another process's lock without nesting transactions", async () => {
    const { store, path } = freshStore();
    await store.createRun(many(30));
    const other = new Database(path);
    other.run("BEGIN IMMEDIATE"); // another process holds the write lock
    const claims = Promise.all(Array.from({ length: 30 }, (_, i) => store.claimTasks(`w${i}`, 1, 10_000)));
    await Bun.sleep(30); // the other process holds the lock a while (simulated work)
    other.run("COMMIT");
    other.close();
    const claimed = (await claims).flat();
    expect(claimed).toHaveLength(30);
    expect(new Set(claimed.map((c) => c.taskId)).size).toBe(30);
    expect(store.db.inTransaction).toBe(false);
  });

  test("writes started together on one store each commit their own transaction and leave none open", async () => {
    const { store } = freshStore();
    await store.createRun(many(10));
    const claimed = (await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimTasks(`w${i}`, 1, 10_000)))).flat();
    await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, null)));
    expect(store.db.inTransaction).toBe(false);
  });

  test("a write refused before or inside its transaction leaves none open", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"]));
    expect(await rejected(store.claimTasks("w", 1.5, 1_000))).toBeInstanceOf(RangeError);
    expect(store.db.inTransaction).toBe(false);
    expect(await rejected(store.completeTask(424_242, 1, null))).toBeInstanceOf(Error); // refused by the fence, inside the transaction
    expect(store.db.inTransaction).toBe(false);
    expect(await store.claimTasks("w", 3, 1_000)).toHaveLength(1);
  });
});
