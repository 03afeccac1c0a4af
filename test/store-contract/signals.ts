/** Signals: named, persisted facts (the first emit wins) that tasks wait for. */
import { describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, plan, step } from "./support.ts";

/** Claims the next task and suspends it waiting for `name` (until `until`, if given). */
async function waitFor(store: Store, name: string, until?: number) {
  const claimed = await claimOne(store);
  await store.suspendTask(claimed.taskId, claimed.attemptId, {
    reason: `waiting for event "${name}"`,
    waitingFor: name,
    until,
    step: step(`wait-${name}`, 1, { kind: "event", status: "waiting", input: { event: name }, endedAt: null }),
  });
  return claimed;
}

export function signalContract(open: OpenDb): void {
  describe("signals", () => {
    test("the first emit of a signal wins: a second one changes nothing and says so", async () => {
      const { store, clock } = await open();
      const first = await store.emitSignal("release", { n: 1 }, "a");
      expect(first).toEqual({ signal: { name: "release", data: { n: 1 }, emittedBy: "a", emittedAt: clock.now() }, created: true, woken: 0 });
      clock.advance(1_000);
      const again = await store.emitSignal("release", { n: 2 }, "b");
      expect(again).toEqual({ signal: first.signal, created: false, woken: 0 });
      expect(await store.getSignal("release")).toEqual(first.signal);
      const emitted = await eventsOf(store, "signal.emitted");
      expect(emitted.map((e) => [e.actor, e.data, e.runId])).toEqual([["a", { name: "release", woken: 0 }, null]]);
    });

    test("a signal never emitted reads as null, and a signal emitted without data holds null", async () => {
      const { store } = await open();
      expect(await store.getSignal("nothing-yet")).toBeNull();
      await store.emitSignal("bare", undefined, "ops");
      expect((await store.getSignal("bare"))!.data).toBeNull();
    });

    test("emitting a signal wakes every task waiting for it, and only those, and signal.emitted counts them", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["one"], ["two"], ["other"]));
      const one = await waitFor(store, "deploy");
      const two = await waitFor(store, "deploy", clock.now() + 3_600_000);
      const other = await waitFor(store, "rollback");
      clock.advance(10);
      const result = await store.emitSignal("deploy", { version: "1.2" }, "ci");
      expect(result).toMatchObject({ created: true, woken: 2 });
      expect(await store.getTask(one.taskId)).toMatchObject({ state: "ready", availableAt: clock.now() });
      expect(await store.getTask(two.taskId)).toMatchObject({ state: "ready", availableAt: clock.now() });
      expect((await store.getTask(other.taskId)).state).toBe("waiting");
      expect((await eventsOf(store, "signal.emitted")).map((e) => [e.actor, e.data])).toEqual([["ci", { name: "deploy", woken: 2 }]]);
      expect((await store.claimTasks("w", 5, 1_000)).map((c) => c.key)).toEqual(["one", "two"]);
      expect((await store.getRun(run.id)).tasksOpen).toBe(3);
    });

    test("a task waiting for a signal waits without a lease, however much time passes", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await waitFor(store, "deploy");
      expect(await store.getTask(a.taskId)).toMatchObject({ state: "waiting", attemptId: null });
      clock.advance(3_600_000);
      expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
    });

    test("a task that suspends to wait for a signal already emitted stays ready and is claimable at once", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      await store.emitSignal("deploy", "early", "ops");
      clock.advance(100);
      const a = await waitFor(store, "deploy");
      expect(await store.getTask(a.taskId)).toMatchObject({ state: "ready", attemptId: null, availableAt: clock.now() });
      expect((await store.listAttempts(a.taskId)).map((x) => x.state)).toEqual(["suspended"]);
      expect((await store.listSteps(a.taskId)).map((s) => s.status)).toEqual(["waiting"]);
      expect(await claimOne(store)).toMatchObject({ taskId: a.taskId, attempt: 2 });
    });

    test("a signal emitted from another store wakes a task that waits in this one", async () => {
      const { store, another } = await open();
      await store.createRun(plan(["a"]));
      const a = await waitFor(store, "deploy");
      expect((await (await another()).emitSignal("deploy", null, "ops")).woken).toBe(1);
      expect((await store.getTask(a.taskId)).state).toBe("ready");
    });

    test("a task waiting for a signal with a deadline wakes at the deadline without it", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await waitFor(store, "deploy", clock.now() + 60_000);
      clock.advance(59_999);
      expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
      clock.advance(1);
      expect(await claimOne(store)).toMatchObject({ taskId: a.taskId, attempt: 2 });
    });

    test("a signal wakes only tasks that wait for it now: a task that gave up on it at its deadline and then sleeps is not woken", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const first = await waitFor(store, "deploy", clock.now() + 60_000);
      clock.advance(60_000);
      const second = await claimOne(store);
      expect(second.taskId).toBe(first.taskId);
      // The deadline passed: the workflow stops waiting for the signal and takes a durable sleep instead.
      const sleepUntil = clock.now() + 3_600_000;
      await store.suspendTask(second.taskId, second.attemptId, { reason: 'sleep "cool-down"', until: sleepUntil });
      const emitted = await store.emitSignal("deploy", "late", "ops");
      expect(emitted.woken).toBe(0);
      expect(await store.getTask(second.taskId)).toMatchObject({ state: "waiting", availableAt: sleepUntil });
    });

    test("two stores emitting one signal at once: exactly one emit is created and wakes the waiter", async () => {
      const { store, another } = await open();
      const other = await another();
      await store.createRun(plan(["a"]));
      await waitFor(store, "deploy");
      const results = await Promise.all([store.emitSignal("deploy", "from one", "one"), other.emitSignal("deploy", "from two", "two")]);
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      const winner = results.find((r) => r.created)!;
      expect(winner.woken).toBe(1);
      expect(results.every((r) => r.signal.emittedBy === winner.signal.emittedBy)).toBe(true);
      expect(await eventsOf(store, "signal.emitted")).toHaveLength(1);
    });
  });
}
