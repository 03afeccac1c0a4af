/**
 * The SQLite store's claim upkeep (src/store/sqlite/upkeep.ts): reclaiming,
 * the gate sweep and wake-ups run at most once per UPKEEP_INTERVAL_MS of the
 * store's clock on a busy claim, and each pass does bounded work
 * (RECLAIM_BATCH), staying due while a backlog is left. What every store must
 * do (a claim reclaims expired leases, limit 0 is an upkeep pass, a backlog
 * drains) is in the contract suite; these are the SQLite store's own bounds.
 */
import { describe, expect, test } from "bun:test";
import { RECLAIM_BATCH } from "../src/store/sqlite/leases.ts";
import type { SqliteStore } from "../src/store/sqlite/store.ts";
import { UPKEEP_INTERVAL_MS } from "../src/store/sqlite/upkeep.ts";
import { freshStore, plan } from "./helpers.ts";

const many = (n: number) => plan(...Array.from({ length: n }, (_, i) => [`t${i}`] as [string]));

async function reclaimed(store: SqliteStore): Promise<number> {
  return (await store.listEvents({ limit: 100_000 })).filter((e) => e.type === "task.lease_expired").length;
}

describe("the claim's upkeep", () => {
  test("a busy claim runs it at most once per interval of the store's clock, and a later claim reclaims at once", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"], ["c"], ["d"]));
    const [a] = await store.claimTasks("w1", 1, 50);
    clock.advance(UPKEEP_INTERVAL_MS / 2); // a's lease has expired, but the upkeep ran half an interval ago
    expect((await store.claimTasks("w2", 1, 10_000)).map((c) => c.key)).toEqual(["b"]);
    expect(await reclaimed(store)).toBe(0);
    clock.advance(UPKEEP_INTERVAL_MS / 2);
    expect((await store.claimTasks("w3", 1, 10_000)).map((c) => c.key)).toEqual(["c"]);
    expect(await reclaimed(store)).toBe(1);
    expect(await store.getTask(a!.taskId)).toMatchObject({ state: "ready", crashes: 1 });
  });

  test("an upkeep pass reclaims at most RECLAIM_BATCH expired leases, so one claim never does unbounded work", async () => {
    const { store, clock } = freshStore();
    await store.createRun(many(RECLAIM_BATCH + 8));
    expect(await store.claimTasks("w1", RECLAIM_BATCH + 8, 1_000)).toHaveLength(RECLAIM_BATCH + 8);
    clock.advance(1_001);
    await store.claimTasks("w2", 0, 1_000);
    expect(await reclaimed(store)).toBe(RECLAIM_BATCH);
    await store.claimTasks("w2", 0, 1_000);
    expect(await reclaimed(store)).toBe(RECLAIM_BATCH + 8);
  });

  test("a pass that hits its batch bound stays due, so the backlog drains claim after claim at the same clock time", async () => {
    const { store, clock } = freshStore();
    await store.createRun(many(RECLAIM_BATCH + 9));
    expect(await store.claimTasks("w1", RECLAIM_BATCH + 8, 1_000)).toHaveLength(RECLAIM_BATCH + 8);
    clock.advance(1_001);
    expect(await store.claimTasks("w2", 1, 10_000)).toHaveLength(1); // the one task never claimed, after a full batch
    expect(await reclaimed(store)).toBe(RECLAIM_BATCH);
    expect(await store.claimTasks("w2", 1, 10_000)).toHaveLength(1); // same clock time: the rest of the backlog
    expect(await reclaimed(store)).toBe(RECLAIM_BATCH + 8);
  });
});
