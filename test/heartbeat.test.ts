import { describe, expect, test } from "bun:test";
import { ManualTicker } from "../src/core/clock.ts";
import { LeaseLostError } from "../src/core/errors.ts";
import { LeaseKeeper } from "../src/engine/leaseKeeper.ts";
import { freshStore, plan } from "./helpers.ts";

describe("a drone's heartbeat", () => {
  test("renews every lease the drone holds in one store call, each by its own length, every third of the shortest", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"], ["c"]));
    const claims = await store.claimTasks("d1", 3, 90);
    const ticker = new ManualTicker();
    const keeper = new LeaseKeeper({ store, clock, worker: "d1", ticker });
    const lost: Error[] = [];
    const lengths = [90, 300, 3_000];
    const release = claims.map((claim, i) => keeper.hold({ taskId: claim.taskId, attemptId: claim.attemptId, leaseMs: lengths[i]! }, (e) => lost.push(e)));
    expect(ticker.intervals).toEqual([30]); // one timer, a third of the shortest lease
    const batches = store.writeStats.batches;
    clock.advance(50);
    await ticker.tick();
    expect(store.writeStats.batches - batches).toBe(1);
    for (const [i, claim] of claims.entries()) {
      expect((await store.getTask(claim.taskId)).leaseExpiresAt).toBe(clock.now() + lengths[i]!);
      expect((await store.listAttempts(claim.taskId))[0]!.heartbeatAt).toBe(clock.now());
    }
    release[0]!();
    expect(ticker.intervals).toEqual([100]); // the shortest lease left is 300 ms
    release[1]!();
    release[2]!();
    expect(ticker.intervals).toEqual([]); // nothing held: no timer
    expect(lost).toEqual([]);
  });

  test("renewals refused by the fence (the run was cancelled) report each lease lost once, and the timer stops", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"]));
    const [a, b] = await store.claimTasks("d1", 2, 60);
    const ticker = new ManualTicker();
    const keeper = new LeaseKeeper({ store, clock, worker: "d1", ticker });
    const lost: string[] = [];
    keeper.hold({ taskId: a!.taskId, attemptId: a!.attemptId, leaseMs: 60 }, (e) => lost.push(`a: ${e.constructor.name}`));
    keeper.hold({ taskId: b!.taskId, attemptId: b!.attemptId, leaseMs: 60 }, (e) => lost.push(`b: ${e.constructor.name}`));
    await store.cancelRun(a!.runId); // fences both attempts off
    expect(lost).toEqual([]);
    await ticker.tick();
    expect(lost.sort()).toEqual(["a: LeaseLostError", "b: LeaseLostError"]);
    await ticker.tick();
    expect(lost).toHaveLength(2);
    expect(keeper.size).toBe(0);
    expect(ticker.intervals).toEqual([]);
  });

  test("a lease reclaimed by another drone is lost while the drone's other leases are renewed", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("d1", 1, 60);
    clock.advance(61);
    await store.createRun(plan(["b"]));
    const [b] = await store.claimTasks("d1", 1, 60_000, { workflows: ["noop"] }); // the upkeep reclaims a first
    const [again] = await store.claimTasks("thief", 5, 60_000);
    expect(again?.key).toBe("a");
    const ticker = new ManualTicker();
    const keeper = new LeaseKeeper({ store, clock, worker: "d1", ticker });
    const lost: Error[] = [];
    keeper.hold({ taskId: a!.taskId, attemptId: a!.attemptId, leaseMs: 60 }, (e) => lost.push(e));
    keeper.hold({ taskId: b!.taskId, attemptId: b!.attemptId, leaseMs: 60_000 }, (e) => lost.push(e));
    await ticker.tick();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
    expect(keeper.size).toBe(1);
    expect((await store.getTask(b!.taskId)).leaseExpiresAt).toBe(clock.now() + 60_000);
  });

  test("a drone that cannot heartbeat for a whole lease treats the lease as lost", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("d1", 1, 60);
    const ticker = new ManualTicker();
    const keeper = new LeaseKeeper({ store, clock, worker: "d1", ticker });
    const lost: Error[] = [];
    await store.close(); // the database is gone: every renewal fails, but not with a fence refusal
    keeper.hold({ taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 60 }, (e) => lost.push(e));
    await ticker.tick();
    expect(lost).toEqual([]); // failing, but the lease may still be ours
    clock.advance(60);
    await ticker.tick();
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toContain("heartbeats failing for a whole lease");
  });
});
