/** Leases: kept by heartbeats, reclaimed when they expire (the drone crashed), given back on shutdown. */
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, eventTypes, plan } from "./support.ts";

export function leaseContract(open: OpenDb): void {
  describe("leases", () => {
    test("a heartbeat extends the lease from now, records the beat on the attempt, and keeps the task from being reclaimed", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const claim = await claimOne(store, "w1", 1_000);
      clock.advance(900);
      expect(await store.extendLease(claim.taskId, claim.attemptId, 1_000)).toBe(clock.now() + 1_000);
      expect((await store.getTask(claim.taskId)).leaseExpiresAt).toBe(clock.now() + 1_000);
      expect((await store.listAttempts(claim.taskId))[0]).toMatchObject({ state: "running", heartbeatAt: clock.now() });
      clock.advance(900);
      expect(await store.claimTasks("w2", 1, 1_000)).toEqual([]);
      expect(await store.claimTasks("w2", 0, 1_000)).toEqual([]);
      expect(await store.getTask(claim.taskId)).toMatchObject({ state: "running", attemptId: claim.attemptId, crashes: 0 });
      await store.completeTask(claim.taskId, claim.attemptId, "done");
    });

    test("an expired lease is reclaimed: the attempt crashed, task.lease_expired names the owner and the crash count, and a new attempt gets the task", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"]));
      const first = await claimOne(store, "w1", 1_000);
      clock.advance(1_001);
      const second = await claimOne(store, "w2", 1_000);
      expect(second).toMatchObject({ taskId: first.taskId, attempt: 2 });
      expect(second.attemptId).toBeGreaterThan(first.attemptId);
      const attempts = await store.listAttempts(first.taskId);
      expect(attempts.map((a) => [a.number, a.worker, a.state, a.endedAt])).toEqual([[1, "w1", "crashed", clock.now()], [2, "w2", "running", null]]);
      expect(attempts[0]!.error?.code).toBe("lease_expired");
      expect(await store.getTask(first.taskId)).toMatchObject({ state: "running", attemptId: second.attemptId, leaseOwner: "w2", crashes: 1, failures: 0, attempts: 2 });
      expect(await eventTypes(store, { runId: run.id })).toEqual(["run.created", "task.started", "task.lease_expired", "task.started"]);
      const [expired] = await eventsOf(store, "task.lease_expired", { runId: run.id });
      expect(expired).toMatchObject({ actor: "w2", taskId: first.taskId, attemptId: first.attemptId, at: clock.now(), data: { owner: "w1", crashes: 1 } });
    });

    test("a task that crashes its drone more often than the recovery limit fails with reason recovery_limit and skips its dependents", async () => {
      const { store, clock } = await open({ recoveryLimit: 2 });
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      for (let i = 0; i < 3; i++) {
        expect((await claimOne(store, `w${i}`, 1_000)).attempt).toBe(i + 1);
        clock.advance(1_001);
      }
      expect(await store.claimTasks("w9", 1, 1_000)).toEqual([]);
      const [a, b] = await store.listTasks(run.id);
      expect(a).toMatchObject({ state: "failed", failReason: "recovery_limit", crashes: 3, attemptId: null, error: { code: "recovery_limit" } });
      expect(a!.error!.message).toContain("crashed its drone 3 times (recovery limit 2)");
      expect(b!.state).toBe("skipped");
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksOpen: 0, tasksFailed: 2 });
      expect((await eventsOf(store, "task.lease_expired", { runId: run.id })).map((e) => e.data.crashes)).toEqual([1, 2, 3]);
      const [failed] = await eventsOf(store, "task.failed", { runId: run.id });
      expect(failed!.data).toEqual({ reason: "recovery_limit", error: a!.error!.message, skipped: ["b"] });
      expect((await eventsOf(store, "run.failed", { runId: run.id })).map((e) => e.data)).toEqual([{ failedTasks: 2 }]);
    });

    test("a backlog of expired leases drains over successive upkeep passes, each task reclaimed exactly once", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(...Array.from({ length: 100 }, (_, i) => [`t${i}`] as [string])));
      expect(await store.claimTasks("w1", 100, 1_000)).toHaveLength(100);
      clock.advance(1_001);
      let reclaimed = 0;
      for (let pass = 0; pass < 100 && reclaimed < 100; pass++) {
        await store.claimTasks("upkeep", 0, 1_000);
        const now = (await eventsOf(store, "task.lease_expired", { runId: run.id })).length;
        expect(now).toBeGreaterThan(reclaimed); // every pass makes progress
        reclaimed = now;
      }
      const expired = await eventsOf(store, "task.lease_expired", { runId: run.id });
      expect(new Set(expired.map((e) => e.taskId)).size).toBe(100);
      expect((await store.listTasks(run.id)).every((t) => t.state === "ready" && t.crashes === 1)).toBe(true);
    });

    test("a released task is ready at once for another worker and counts neither as a failure nor as a crash", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"]));
      const first = await claimOne(store, "w1");
      await store.releaseTask(first.taskId, first.attemptId);
      expect(await store.getTask(first.taskId)).toMatchObject({ state: "ready", attemptId: null, leaseExpiresAt: null, availableAt: clock.now() });
      const [released] = await eventsOf(store, "task.released", { runId: run.id });
      expect(released).toMatchObject({ actor: "w1", taskId: first.taskId, attemptId: first.attemptId, data: null });
      const again = await claimOne(store, "w2");
      expect(again).toMatchObject({ taskId: first.taskId, attempt: 2 });
      expect(await store.getTask(first.taskId)).toMatchObject({ state: "running", failures: 0, crashes: 0 });
      expect((await store.listAttempts(first.taskId)).map((a) => a.state)).toEqual(["released", "running"]);
    });

    test("two stores running the upkeep at once reclaim each expired lease once", async () => {
      const { store, another, clock } = await open();
      const other = await another();
      const run = await store.createRun(plan(...Array.from({ length: 10 }, (_, i) => [`t${i}`] as [string])));
      await store.claimTasks("w1", 10, 1_000);
      clock.advance(1_001);
      const claimed = (await Promise.all([store.claimTasks("a", 5, 1_000), other.claimTasks("b", 5, 1_000), store.claimTasks("c", 0, 1_000), other.claimTasks("d", 0, 1_000)])).flat();
      const expired = await eventsOf(store, "task.lease_expired", { runId: run.id });
      expect(expired).toHaveLength(10);
      expect(new Set(expired.map((e) => e.taskId)).size).toBe(10);
      expect(new Set(claimed.map((c) => c.taskId)).size).toBe(claimed.length);
      expect((await store.listTasks(run.id)).every((t) => t.crashes === 1)).toBe(true);
    });
  });
}
