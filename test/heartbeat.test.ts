import { describe, expect, test } from "bun:test";
import { LeaseLostError } from "../src/core/errors.ts";
import { startHeartbeat } from "../src/engine/heartbeat.ts";
import { freshStore, plan } from "./helpers.ts";

describe("heartbeats", () => {
  test("renew the lease about every third of it", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w", 1, 90);
    const lost: Error[] = [];
    const beat = startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 90, onLost: (e) => lost.push(e) });
    clock.advance(50);
    await Bun.sleep(80);
    beat.stop();
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
    const lost: Error[] = [];
    startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 60, onLost: (e) => lost.push(e) });
    await Bun.sleep(100);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
  });

  test("a drone that cannot heartbeat for a whole lease treats the lease as lost", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w", 1, 60);
    const lost: Error[] = [];
    store.close(); // the database is gone: every renewal fails, but not with a fence refusal
    startHeartbeat({ store, clock, taskId: claim!.taskId, attemptId: claim!.attemptId, leaseMs: 60, onLost: (e) => lost.push(e) });
    await Bun.sleep(50);
    expect(lost).toEqual([]); // failing, but the lease may still be ours
    clock.advance(60);
    await Bun.sleep(50);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toContain("heartbeats failing for a whole lease");
  });
});
