/** How a running task ends: success (its dependents unblocked) or failure (a retry with backoff, or failed for good with its dependents skipped). */
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimKey, claimOne, eventsOf, plan, states, step, tasks } from "./support.ts";

export function outcomeContract(open: OpenDb): void {
  describe("completing", () => {
    test("completing a task unblocks the dependents whose last dependency it was, and task.succeeded names them", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"], ["c", "a"], ["d", "b", "c"]));
      const a = await claimOne(store);
      expect(await store.completeTask(a.taskId, a.attemptId, { built: true })).toEqual({ unblocked: 2, runState: "running" });
      const [b, c] = await store.claimTasks("w", 5, 1_000);
      expect([b!.key, c!.key]).toEqual(["b", "c"]);
      expect(await store.completeTask(b!.taskId, b!.attemptId, 1)).toEqual({ unblocked: 0, runState: "running" });
      expect(await store.findTask(run.id, "d")).toMatchObject({ state: "blocked", pendingDeps: 1 });
      expect(await store.completeTask(c!.taskId, c!.attemptId, 2)).toEqual({ unblocked: 1, runState: "running" });
      expect(await store.findTask(run.id, "d")).toMatchObject({ state: "ready", pendingDeps: 0 });
      const succeeded = await eventsOf(store, "task.succeeded", { runId: run.id });
      expect(succeeded.map((e) => [e.taskId, e.attemptId, e.actor, [...e.data.unblocked].sort()])).toEqual([
        [a.taskId, a.attemptId, "w", ["b", "c"]],
        [b!.taskId, b!.attemptId, "w", []],
        [c!.taskId, c!.attemptId, "w", ["d"]],
      ]);
    });

    test("completing records the output and the finish time, ends the attempt as succeeded and gives up the lease", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b"]));
      const a = await claimOne(store);
      clock.advance(250);
      await store.completeTask(a.taskId, a.attemptId, { pages: [1, 2], ok: true });
      expect(await store.getTask(a.taskId)).toMatchObject({
        state: "succeeded", output: { pages: [1, 2], ok: true }, finishedAt: clock.now(), attemptId: null, leaseExpiresAt: null, error: null,
      });
      expect((await store.listAttempts(a.taskId)).map((x) => [x.state, x.endedAt])).toEqual([["succeeded", clock.now()]]);
      expect(await store.getRun(run.id)).toMatchObject({ state: "running", tasksOpen: 1, tasksFailed: 0, finishedAt: null });
    });

    test("an undefined output is stored as null", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, undefined);
      expect((await store.getTask(a.taskId)).output).toBeNull();
    });

    test("the run succeeds with its last task: run.succeeded with no failed tasks, tasksOpen 0 and its finish time", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      for (const expected of [{ unblocked: 1, runState: "running" }, { unblocked: 0, runState: "succeeded" }] as const) {
        const claimed = await claimOne(store);
        clock.advance(10);
        expect(await store.completeTask(claimed.taskId, claimed.attemptId, null)).toEqual(expected);
      }
      expect(await store.getRun(run.id)).toMatchObject({ state: "succeeded", tasksTotal: 2, tasksOpen: 0, tasksFailed: 0, finishedAt: clock.now(), updatedAt: clock.now() });
      const ended = await eventsOf(store, "run.succeeded", { runId: run.id });
      expect(ended.map((e) => [e.actor, e.data, e.taskId])).toEqual([["w", { failedTasks: 0 }, null]]);
      expect((await store.listEvents({ runId: run.id })).at(-1)!.type).toBe("run.succeeded");
    });
  });

  describe("failing and retrying", () => {
    test("a failure with attempts left returns the task to ready after a backoff drawn from the injected clock and random, with task.retry_scheduled", async () => {
      const { store, clock } = await open({ random: () => 0 });
      const run = await store.createRun(tasks({ id: "flaky", retries: 2 }));
      clock.advance(7);
      const first = await claimOne(store);
      const result = await store.failTask(first.taskId, first.attemptId, { message: "boom", code: "E_BOOM" });
      // The default policy: base 1 s, and the injected random 0 keeps half of it.
      expect(result).toEqual({ state: "ready", availableAt: clock.now() + 500, skipped: 0, runState: "running" });
      expect(await store.getTask(first.taskId)).toMatchObject({
        state: "ready", failures: 1, availableAt: clock.now() + 500, error: { message: "boom", code: "E_BOOM" }, attemptId: null, leaseExpiresAt: null, failReason: null, finishedAt: null,
      });
      expect((await store.listAttempts(first.taskId)).map((a) => [a.state, a.error, a.endedAt])).toEqual([["failed", { message: "boom", code: "E_BOOM" }, clock.now()]]);
      const [retry] = await eventsOf(store, "task.retry_scheduled", { runId: run.id });
      expect(retry).toMatchObject({ actor: "w", attemptId: first.attemptId, data: { error: "boom", failures: 1, maxAttempts: 3, availableAt: clock.now() + 500 } });
      clock.advance(499);
      expect(await store.claimTasks("w", 1, 10_000)).toEqual([]);
      clock.advance(1);
      expect(await claimOne(store)).toMatchObject({ taskId: first.taskId, attempt: 2, maxAttempts: 3 });
    });

    test("each retry waits twice as long as the one before, up to the policy's maximum, and FailOptions.backoff replaces the store's default", async () => {
      const { store, clock } = await open({ random: () => 1 });
      await store.createRun(tasks({ id: "flaky", retries: 4 }));
      const delays: number[] = [];
      for (let i = 0; i < 4; i++) {
        const claimed = await claimOne(store);
        const { availableAt } = await store.failTask(claimed.taskId, claimed.attemptId, { message: `boom ${i}` }, { backoff: { baseMs: 100, maxMs: 250 } });
        delays.push(availableAt! - clock.now());
        clock.set(availableAt!);
      }
      expect(delays).toEqual([100, 200, 250, 250]);
    });

    test("the jitter comes from the injected random: half the delay is fixed, the other half scales with it", async () => {
      const { store, clock } = await open({ random: () => 0.5 });
      await store.createRun(tasks({ id: "flaky", retries: 1 }));
      const claimed = await claimOne(store);
      const { availableAt } = await store.failTask(claimed.taskId, claimed.attemptId, { message: "boom" }, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
      expect(availableAt).toBe(clock.now() + 750);
    });

    test("a retry keeps the completed steps of the journal and drops the failed ones", async () => {
      const { store, clock } = await open();
      await store.createRun(tasks({ id: "a", retries: 1 }));
      const first = await claimOne(store);
      await store.recordStep(first.taskId, first.attemptId, step("fetch", 1, { output: { pages: 3 } }));
      await store.recordStep(first.taskId, first.attemptId, step("render", 2, { status: "failed", error: { message: "renderer crashed" } }));
      const { availableAt } = await store.failTask(first.taskId, first.attemptId, { message: "renderer crashed" });
      expect((await store.listSteps(first.taskId)).map((s) => [s.key, s.status, s.output])).toEqual([["fetch", "completed", { pages: 3 }]]);
      clock.set(availableAt!);
      const second = await claimOne(store);
      await store.recordStep(second.taskId, second.attemptId, step("render", 2, { output: 6 }));
      expect((await store.listSteps(first.taskId)).map((s) => [s.key, s.status, s.attemptId])).toEqual([["fetch", "completed", first.attemptId], ["render", "completed", second.attemptId]]);
    });

    test("without attempts left the task fails with reason error and every open task downstream is skipped, transitively; a parallel branch still finishes", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["side"], ["b", "a"], ["c", "b"], ["d", "c", "side"]));
      const first = await store.claimTasks("w", 5, 1_000);
      const a = first.find((c) => c.key === "a")!;
      const side = first.find((c) => c.key === "side")!;
      const result = await store.failTask(a.taskId, a.attemptId, { message: "compile error" });
      expect(result).toEqual({ state: "failed", availableAt: null, skipped: 3, runState: "running" });
      expect(await states(store, run.id)).toEqual({ a: "failed", side: "running", b: "skipped", c: "skipped", d: "skipped" });
      expect(await store.findTask(run.id, "a")).toMatchObject({ failReason: "error", failures: 1, error: { message: "compile error" }, finishedAt: clock.now() });
      expect((await store.findTask(run.id, "d")).finishedAt).toBe(clock.now());
      const [failed] = await eventsOf(store, "task.failed", { runId: run.id });
      expect(failed).toMatchObject({ actor: "w", taskId: a.taskId, attemptId: a.attemptId, data: { reason: "error", error: "compile error" } });
      expect([...failed!.data.skipped].sort()).toEqual(["b", "c", "d"]);
      expect(await store.getRun(run.id)).toMatchObject({ state: "running", tasksOpen: 1, tasksFailed: 4 });
      expect(await store.completeTask(side.taskId, side.attemptId, "ok")).toEqual({ unblocked: 0, runState: "failed" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksOpen: 0, tasksFailed: 4, finishedAt: clock.now() });
      expect((await eventsOf(store, "run.failed", { runId: run.id })).map((e) => e.data)).toEqual([{ failedTasks: 4 }]);
    });

    test("a skip cascade closes only open tasks: a task already skipped by one failure is not skipped or counted again by the next", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["b"], ["c"], ["d", "b", "c"]));
      const b = await claimKey(store, "b");
      const c = (await store.findTask(run.id, "c"));
      expect((await store.failTask(b.taskId, b.attemptId, { message: "b broke" })).skipped).toBe(1);
      const result = await store.failTask(c.id, c.attemptId!, { message: "c broke" });
      expect(result).toEqual({ state: "failed", availableAt: null, skipped: 0, runState: "failed" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksOpen: 0, tasksFailed: 3 });
      expect((await eventsOf(store, "task.failed", { runId: run.id })).map((e) => e.data.skipped)).toEqual([["d"], []]);
      expect((await eventsOf(store, "run.failed", { runId: run.id })).map((e) => e.data)).toEqual([{ failedTasks: 3 }]);
    });

    test("a skip cascade never touches a task that already succeeded", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"], ["c", "b"]));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, "a");
      const b = await claimOne(store);
      await store.failTask(b.taskId, b.attemptId, { message: "b broke" });
      expect(await states(store, run.id)).toEqual({ a: "succeeded", b: "failed", c: "skipped" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksFailed: 2 });
    });

    test("a non-retryable failure fails at once with reason non_retryable, whatever retries are left", async () => {
      const { store } = await open();
      await store.createRun(tasks({ id: "a", retries: 5 }));
      const a = await claimOne(store);
      expect(await store.failTask(a.taskId, a.attemptId, { message: "bad input" }, { retryable: false })).toMatchObject({ state: "failed", availableAt: null });
      expect(await store.getTask(a.taskId)).toMatchObject({ state: "failed", failReason: "non_retryable", failures: 1 });
    });

    test("a failure for good records the reason it is given, with or without retries left", async () => {
      const { store } = await open();
      const run = await store.createRun(tasks({ id: "slow" }, { id: "spent", retries: 3 }));
      const slow = await claimKey(store, "slow");
      await store.failTask(slow.taskId, slow.attemptId, { message: "timed out", code: "timeout" }, { reason: "timeout" });
      const spent = await store.findTask(run.id, "spent");
      await store.failTask(spent.id, spent.attemptId!, { message: "budget spent" }, { retryable: false, reason: "exhausted" });
      expect((await store.listTasks(run.id)).map((t) => [t.key, t.state, t.failReason])).toEqual([["slow", "failed", "timeout"], ["spent", "failed", "exhausted"]]);
      expect((await eventsOf(store, "task.failed", { runId: run.id })).map((e) => e.data.reason)).toEqual(["timeout", "exhausted"]);
    });

    test("the last allowed attempt failing fails the task for good", async () => {
      const { store, clock } = await open();
      await store.createRun(tasks({ id: "a", retries: 1 }));
      const first = await claimOne(store);
      clock.set((await store.failTask(first.taskId, first.attemptId, { message: "one" })).availableAt!);
      const second = await claimOne(store);
      expect(second.attempt).toBe(2);
      expect(await store.failTask(second.taskId, second.attemptId, { message: "two" })).toMatchObject({ state: "failed", runState: "failed" });
      expect(await store.getTask(first.taskId)).toMatchObject({ state: "failed", failures: 2, failReason: "error", error: { message: "two" } });
    });
  });
}
