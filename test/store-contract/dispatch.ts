/**
 * What a drone's loop relies on beyond claiming: one heartbeat renewing all
 * its leases, claim groups (workflow limits), dependency outputs brought by
 * the claim, when a claim could next find work, and change tokens.
 */
import { describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, plan, tasks } from "./support.ts";

export function dispatchContract(open: OpenDb): void {
  describe("dispatch", () => {
    test("one heartbeat renews every lease the drone holds, each by its own length, and reports the lost ones", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"], ["b"], ["c"]));
      const [a, b] = await store.claimTasks("d1", 3, 1_000);
      await store.cancelRun(a!.runId); // fences a and b off
      const run = await store.createRun(plan(["x"], ["y"]));
      const [x, y] = await store.claimTasks("d1", 2, 1_000);
      clock.advance(500);
      const lost = await store.renewLeases("d1", [
        { taskId: x!.taskId, attemptId: x!.attemptId, leaseMs: 2_000 },
        { taskId: y!.taskId, attemptId: y!.attemptId, leaseMs: 60_000 },
        { taskId: a!.taskId, attemptId: a!.attemptId, leaseMs: 2_000 },
        { taskId: b!.taskId, attemptId: b!.attemptId, leaseMs: 2_000 },
      ]);
      expect(lost.sort((p, q) => p - q)).toEqual([a!.attemptId, b!.attemptId].sort((p, q) => p - q));
      expect((await store.findTask(run.id, "x")).leaseExpiresAt).toBe(clock.now() + 2_000);
      expect((await store.findTask(run.id, "y")).leaseExpiresAt).toBe(clock.now() + 60_000);
      expect((await store.listAttempts(x!.taskId))[0]!.heartbeatAt).toBe(clock.now());
      expect(await store.renewLeases("d1", [])).toEqual([]);
    });

    test("a drone's heartbeat cannot renew another drone's lease", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store, "d1", 1_000);
      expect(await store.renewLeases("d2", [{ taskId: a.taskId, attemptId: a.attemptId, leaseMs: 60_000 }])).toEqual([a.attemptId]);
    });

    test("claim groups take each group's best tasks up to its own limit, and all together up to the claim's", async () => {
      const { store } = await open();
      await store.createRun(
        tasks(
          { id: "s1", title: "s1", workflow: "shell", input: { command: "true" }, priority: 9 },
          { id: "s2", title: "s2", workflow: "shell", input: { command: "true" }, priority: 8 },
          { id: "n1", title: "n1", workflow: "noop", priority: 1 },
          { id: "n2", title: "n2", workflow: "noop", priority: 2 },
          { id: "n3", title: "n3", workflow: "noop", priority: 3 },
          { id: "r1", title: "r1", workflow: "review", input: { question: "?" } },
        ),
      );
      const claimed = await store.claimTasks("d1", 4, 10_000, { groups: [{ workflows: ["noop"], limit: 4 }, { workflows: ["shell"], limit: 1 }] });
      expect(claimed.map((c) => c.key)).toEqual(["n3", "n2", "n1", "s1"]);
      // A group with no room claims nothing; tasks of workflows in no group are left alone.
      const more = await store.claimTasks("d1", 5, 10_000, { groups: [{ workflows: ["shell"], limit: 0 }, { workflows: ["noop"], limit: 5 }] });
      expect(more).toEqual([]);
    });

    test("a claim brings the outputs of the task's dependencies, by their workplan ids", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"], ["b"], ["c", "a", "b"]));
      const [a, b] = await store.claimTasks("w", 2, 10_000);
      expect(a!.deps).toEqual({});
      await store.completeTask(a!.taskId, a!.attemptId, { built: true });
      await store.completeTask(b!.taskId, b!.attemptId, null);
      const c = await claimOne(store, "w", 10_000);
      expect(c.deps).toEqual({ a: { built: true }, b: null });
    });

    test("nextDueAt: now or earlier while a task is ready; else the earliest lease expiry, backoff end, wake-up or gate timeout; null when nothing is scheduled", async () => {
      const { store, clock } = await open();
      expect(await store.nextDueAt()).toBeNull();
      const run = await store.createRun(tasks({ id: "a", title: "a", workflow: "noop", retries: 1 }));
      expect(await store.nextDueAt()).toBeLessThanOrEqual(clock.now());
      expect(await store.nextDueAt({ workflows: ["shell"] })).toBeNull(); // nothing of that workflow
      expect(await store.nextDueAt({ groups: [{ workflows: ["noop"], limit: 0 }] })).toBeNull(); // no room to claim it
      const a = await claimOne(store, "w", 5_000);
      expect(await store.nextDueAt()).toBe(clock.now() + 5_000 + 1); // reclaimable a moment after expiry
      const { availableAt } = await store.failTask(a.taskId, a.attemptId, { message: "flake" });
      expect(availableAt).toBeGreaterThan(clock.now());
      expect(await store.nextDueAt()).toBe(availableAt);
      clock.set(availableAt!);
      const again = await claimOne(store, "w", 5_000);
      await store.suspendTask(again.taskId, again.attemptId, { until: clock.now() + 60_000, reason: "sleep" });
      expect(await store.nextDueAt({ runId: run.id })).toBe(clock.now() + 60_000);
      expect(await store.nextDueAt({ runId: "rother" })).toBeNull();
    });

    test("a change token taken before a read makes a later wait return at once if anything was committed since, from this store or another", async () => {
      const { store, another } = await open();
      const other = await another();
      const token = store.changeToken();
      await other.createRun(plan(["a"]));
      const started = Date.now();
      await store.waitForChange({ since: token, maxWaitMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(5_000);
      const own = store.changeToken();
      await store.createRun(plan(["b"]));
      await store.waitForChange({ since: own, maxWaitMs: 10_000 });
      // Nothing committed since: the wait lasts until its bound, or until a signal ends it.
      const quiet = store.changeToken();
      const stop = new AbortController();
      const waiting = store.waitForChange({ since: quiet, signal: stop.signal, maxWaitMs: 60_000 });
      stop.abort();
      await waiting;
    });

    test("a claim that finds nothing is no change (idle drones of one process would otherwise wake each other for ever); a claim that takes a task is one", async () => {
      const { store } = await open();
      await claimNone(store);
      const idle = store.changeToken();
      await claimNone(store);
      await Promise.all([claimNone(store), claimNone(store), claimNone(store)]); // one batch of empty claims
      expect(store.changeToken()).toBe(idle);
      await store.createRun(plan(["a"]));
      const queued = store.changeToken();
      expect(queued).not.toBe(idle);
      await claimOne(store);
      expect(store.changeToken()).not.toBe(queued);
    });
  });
}

async function claimNone(store: Store): Promise<void> {
  expect(await store.claimTasks("idle", 4, 10_000)).toEqual([]);
}
