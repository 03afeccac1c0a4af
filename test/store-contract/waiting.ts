/** Suspending (durable sleeps, waits to be woken) and the journal of steps. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, observe, plan, step } from "./support.ts";

export function waitingContract(open: OpenDb): void {
  describe("suspending and waking", () => {
    test("a suspended task gives up its lease and ends its attempt as suspended, with task.waiting naming the reason and the wake-up time", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store, "w1");
      const until = clock.now() + 60_000;
      await store.suspendTask(a.taskId, a.attemptId, { until, reason: 'sleep "cool-down"' });
      expect(await store.getTask(a.taskId)).toMatchObject({ state: "waiting", attemptId: null, leaseExpiresAt: null, availableAt: until });
      expect((await store.listAttempts(a.taskId)).map((x) => [x.state, x.endedAt])).toEqual([["suspended", clock.now()]]);
      const [waiting] = await eventsOf(store, "task.waiting", { runId: run.id });
      expect(waiting).toMatchObject({ actor: "w1", taskId: a.taskId, attemptId: a.attemptId, data: { reason: 'sleep "cool-down"', until } });
      expect((await store.getRun(run.id)).tasksOpen).toBe(1);
    });

    test("a sleeping task wakes when its time has come, not a millisecond before, and a new attempt resumes it", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.suspendTask(a.taskId, a.attemptId, { until: clock.now() + 60_000, reason: "sleep" });
      clock.advance(59_999);
      expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
      expect((await store.getTask(a.taskId)).state).toBe("waiting");
      clock.advance(1);
      expect(await claimOne(store)).toMatchObject({ taskId: a.taskId, attempt: 2 });
    });

    test("a task suspended without a time stays waiting however much time passes, and task.waiting says it has no wake-up time", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.suspendTask(a.taskId, a.attemptId, { reason: "waits for a person" });
      clock.advance(365 * 86_400_000);
      expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
      expect(await store.claimTasks("w", 0, 1_000)).toEqual([]);
      expect((await store.getTask(a.taskId)).state).toBe("waiting");
      expect((await eventsOf(store, "task.waiting", { runId: run.id }))[0]!.data).toEqual({ reason: "waits for a person", until: null });
    });

    test("suspending records its waiting step in the same write, and a later attempt completes that step", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const first = await claimOne(store);
      const waitingStep = step("cool-down", 2, { kind: "sleep", status: "waiting", input: { durationMs: 1_000 }, output: { until: clock.now() + 1_000 }, startedAt: clock.now(), endedAt: null });
      await store.suspendTask(first.taskId, first.attemptId, { until: clock.now() + 1_000, reason: "sleep", step: waitingStep });
      expect(await store.listSteps(first.taskId)).toEqual([{ ...waitingStep, taskId: first.taskId, attemptId: first.attemptId, usage: null }]);
      clock.advance(1_000);
      const second = await claimOne(store);
      await store.recordStep(second.taskId, second.attemptId, { ...waitingStep, status: "completed", endedAt: clock.now() });
      expect((await store.listSteps(first.taskId)).map((s) => [s.key, s.status, s.attemptId, s.endedAt])).toEqual([["cool-down", "completed", second.attemptId, clock.now()]]);
    });

    test("a suspension refused because its step is already recorded changes nothing: the task still runs under its attempt", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.recordStep(a.taskId, a.attemptId, step("nap", 1));
      const before = await observe(store, run.id);
      expect(await rejected(store.suspendTask(a.taskId, a.attemptId, { reason: "sleep", until: 1, step: step("nap", 1, { status: "waiting", endedAt: null }) }))).toBeInstanceOf(Error);
      expect(await observe(store, run.id)).toEqual(before);
      await store.completeTask(a.taskId, a.attemptId, "done");
    });
  });

  describe("the journal", () => {
    test("steps are recorded under the lease and listed in order with everything they were recorded with", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      const fetch = step("fetch", 1, { input: { url: "x" }, output: { bytes: 3 }, startedAt: clock.now(), endedAt: clock.now() + 5 });
      const parse = step("parse", 2, { status: "failed", error: { message: "bad byte", code: "E_PARSE", name: "Error" }, startedAt: clock.now() + 5, endedAt: clock.now() + 6 });
      const turn = step("turn", 3, { kind: "model", output: "hi", usage: { inputTokens: 10, outputTokens: 2 } });
      await store.recordStep(a.taskId, a.attemptId, parse);
      await store.recordStep(a.taskId, a.attemptId, fetch);
      await store.recordStep(a.taskId, a.attemptId, turn);
      const base = { taskId: a.taskId, attemptId: a.attemptId };
      expect(await store.listSteps(a.taskId)).toEqual([{ ...base, ...fetch, usage: null }, { ...base, ...parse, usage: null }, { ...base, ...turn, usage: turn.usage! }]);
      expect((await store.getTask(a.taskId)).state).toBe("running");
    });

    test("a completed or failed step is a fact: recording its key again is refused and the first record stands", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.recordStep(a.taskId, a.attemptId, step("fetch", 1, { output: { bytes: 3 } }));
      await store.recordStep(a.taskId, a.attemptId, step("parse", 2, { status: "failed", error: { message: "no" } }));
      const before = await store.listSteps(a.taskId);
      expect((await rejected(store.recordStep(a.taskId, a.attemptId, step("fetch", 1, { output: { bytes: 4 } })))).message).toContain('step "fetch"');
      expect((await rejected(store.recordStep(a.taskId, a.attemptId, step("parse", 2, { output: "fixed" })))).message).toContain('step "parse"');
      expect(await store.listSteps(a.taskId)).toEqual(before);
    });

    test("a task's journal is its own: steps with the same key in two tasks are kept apart", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const [a, b] = await store.claimTasks("w", 2, 10_000);
      await store.recordStep(a!.taskId, a!.attemptId, step("fetch", 1, { output: "a" }));
      await store.recordStep(b!.taskId, b!.attemptId, step("fetch", 1, { output: "b" }));
      expect((await store.listSteps(a!.taskId)).map((s) => s.output)).toEqual(["a"]);
      expect((await store.listSteps(b!.taskId)).map((s) => s.output)).toEqual(["b"]);
    });
  });
}
