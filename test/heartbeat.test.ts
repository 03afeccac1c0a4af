import { describe, expect, test } from "bun:test";
import { ManualTicker } from "../src/core/clock.ts";
import { LeaseLostError } from "../src/core/errors.ts";
import { startHeartbeat } from "../src/engine/heartbeat.ts";
import { freshStore, plan } from "./helpers.ts";

describe("heartbeats", () => {
  test("renew the lease every third of it", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w", 1, 90);
    const ticker = new ManualTicker();
    const lost: Error[] = [];
    const beat = startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 90, onLost: (e) => lost.push(e), ticker });
    expect(ticker.intervals).toEqual([30]);
    clock.advance(50);
    await ticker.tick();
    beat.stop();
    expect(ticker.intervals).toEqual([]);
    expect(lost).toEqual([]);
    expect((await store.getTask(claim!.taskId)).leaseExpiresAt).toBe(clock.now() + 90);
    expect((await store.listAttempts(claim!.taskId))[0]!.heartbeatAt).toBe(clock.now());
  });

  test("a renewal refused by the fence reports the lease lost once", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w", 1, 60);
    clock.advance(61);
    await store.claimTasks("thief", 1, 60_000);
    const ticker = new ManualTicker();
    const lost: Error[] = [];
    startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 60, onLost: (e) => lost.push(e), ticker });
    await ticker.tick();
    await ticker.tick(); // stopped after the loss: no second report
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
  });

  test("a drone that cannot heartbeat for a whole lease treats the lease as lost", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w", 1, 60);
    const ticker = new ManualTicker();
    const lost: Error[] = [];
    await store.close(); // the database is gone: every renewal fails, but not with a fence refusal
    startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 60, onLost: (e) => lost.push(e), ticker });
    await ticker.tick();
    expect(lost).toEqual([]); // failing, but the lease may still be ours
    clock.advance(60);
    await ticker.tick();
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toContain("heartbeats failing for a whole lease");
  });
});
