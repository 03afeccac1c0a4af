/** Ending a run from outside (cancelRun) and reopening a finished one (resumeRun). */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { InvalidTransitionError, LeaseLostError } from "../../src/core/errors.ts";
import type { OpenDb } from "./harness.ts";
import { claimKey, claimOne, eventsOf, eventTypes, plan, states, step } from "./support.ts";

export function lifecycleContract(open: OpenDb): void {
  describe("cancelling a run", () => {
    test("cancelling a run cancels every open task, ends a running attempt as cancelled, and run.cancelled names who, why and how many", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["running"], ["sleeping"], ["ready"], ["blocked", "running"]));
      const [running, sleeping] = await store.claimTasks("w", 2, 10_000);
      await store.suspendTask(sleeping!.taskId, sleeping!.attemptId, { reason: "sleep", until: clock.now() + 60_000 });
      clock.advance(100);
      const cancelled = await store.cancelRun(run.id, { actor: "alice", reason: "wrong goal" });
      expect(cancelled).toMatchObject({ state: "cancelled", tasksOpen: 0, tasksFailed: 0, finishedAt: clock.now() });
      expect(await store.getRun(run.id)).toEqual(cancelled);
      expect(await states(store, run.id)).toEqual({ running: "cancelled", sleeping: "cancelled", ready: "cancelled", blocked: "cancelled" });
      expect(await store.getTask(running!.taskId)).toMatchObject({ attemptId: null, leaseExpiresAt: null, finishedAt: clock.now() });
      expect((await store.listAttempts(running!.taskId)).map((a) => [a.state, a.endedAt])).toEqual([["cancelled", clock.now()]]);
      expect((await store.listAttempts(sleeping!.taskId)).map((a) => a.state)).toEqual(["suspended"]);
      const [event] = await eventsOf(store, "run.cancelled", { runId: run.id });
      expect(event).toMatchObject({ actor: "alice", data: { cancelledTasks: 4, reason: "wrong goal" } });
      expect(await rejected(store.completeTask(running!.taskId, running!.attemptId, 1))).toBeInstanceOf(LeaseLostError);
    });

    test("a cancelled run's tasks are never claimed, and its sleeping tasks do not wake", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b"]));
      const a = await claimOne(store);
      await store.suspendTask(a.taskId, a.attemptId, { reason: "sleep", until: clock.now() + 1_000 });
      await store.cancelRun(run.id);
      clock.advance(5_000);
      expect(await store.claimTasks("w", 5, 1_000)).toEqual([]);
      expect(await states(store, run.id)).toEqual({ a: "cancelled", b: "cancelled" });
    });

    test("cancelling keeps the tasks that already finished as they were, and counts only the open ones", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["done"], ["broken"], ["open"]));
      const done = await claimKey(store, "done");
      await store.completeTask(done.taskId, done.attemptId, "kept");
      const broken = await store.findTask(run.id, "broken");
      await store.failTask(broken.id, broken.attemptId!, { message: "no" });
      const cancelled = await store.cancelRun(run.id);
      expect(cancelled).toMatchObject({ state: "cancelled", tasksOpen: 0, tasksFailed: 1 });
      expect(await states(store, run.id)).toEqual({ done: "succeeded", broken: "failed", open: "cancelled" });
      expect((await store.findTask(run.id, "done")).output).toBe("kept");
      expect((await eventsOf(store, "run.cancelled", { runId: run.id }))[0]!.data).toEqual({ cancelledTasks: 1, reason: null });
    });

    test("cancelling a cancelled run is harmless and appends nothing", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const first = await store.cancelRun(run.id, { actor: "alice" });
      const events = await store.listEvents();
      expect(await store.cancelRun(run.id, { actor: "bob" })).toEqual(first);
      expect(await store.listEvents()).toEqual(events);
    });

    test("a finished run cannot be cancelled: InvalidTransitionError, and it stays as it was", async () => {
      const { store } = await open();
      const good = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, 1);
      const bad = await store.createRun(plan(["b"]));
      const b = await claimOne(store);
      await store.failTask(b.taskId, b.attemptId, { message: "no" });
      for (const run of [good, bad]) {
        const before = await store.getRun(run.id);
        expect(await rejected(store.cancelRun(run.id))).toBeInstanceOf(InvalidTransitionError);
        expect(await store.getRun(run.id)).toEqual(before);
      }
    });

    test("cancelling an unknown run is NotFoundError", async () => {
      const { store } = await open();
      expect(await rejected(store.cancelRun("rnope"))).toMatchObject({ code: "run_not_found" });
      expect(await rejected(store.resumeRun("rnope"))).toMatchObject({ code: "run_not_found" });
    });

    test("a completion racing a cancellation from another store: one of them wins whole", async () => {
      for (let round = 0; round < 10; round++) {
        const { store, another } = await open();
        const other = await another();
        const run = await store.createRun(plan(["a"]));
        const a = await claimOne(store);
        const [completed, cancelled] = await Promise.allSettled(
          round % 2 === 0
            ? [store.completeTask(a.taskId, a.attemptId, "done"), other.cancelRun(run.id)]
            : [other.completeTask(a.taskId, a.attemptId, "done"), store.cancelRun(run.id)],
        );
        const final = await store.getRun(run.id);
        const task = await store.getTask(a.taskId);
        if (completed.status === "fulfilled") {
          expect({ run: final.state, task: task.state, output: task.output }).toEqual({ run: "succeeded", task: "succeeded", output: "done" });
          expect(cancelled.status === "rejected" && cancelled.reason).toBeInstanceOf(InvalidTransitionError);
        } else {
          expect(completed.reason).toBeInstanceOf(LeaseLostError);
          expect(cancelled.status).toBe("fulfilled");
          expect({ run: final.state, task: task.state, output: task.output }).toEqual({ run: "cancelled", task: "cancelled", output: null });
        }
      }
    });
  });

  describe("resuming a run", () => {
    test("resuming a failed run reopens its failed and skipped tasks, forgetting their failures, behind the dependencies that did not succeed", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["ok"], ["broken", "ok"], ["after", "broken"], ["last", "after", "ok"]));
      const ok = await claimOne(store);
      await store.completeTask(ok.taskId, ok.attemptId, "fine");
      const broken = await claimOne(store);
      await store.failTask(broken.taskId, broken.attemptId, { message: "parser bug" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksFailed: 3 });
      clock.advance(1_000);
      const { run: reopened, reopened: count } = await store.resumeRun(run.id, { actor: "ops" });
      expect(count).toBe(3);
      expect(reopened).toMatchObject({ state: "running", tasksOpen: 3, tasksFailed: 0, finishedAt: null });
      expect(await store.getRun(run.id)).toEqual(reopened);
      expect((await store.listTasks(run.id)).map((t) => [t.key, t.state, t.pendingDeps])).toEqual([["ok", "succeeded", 0], ["broken", "ready", 0], ["after", "blocked", 1], ["last", "blocked", 1]]);
      expect(await store.findTask(run.id, "broken")).toMatchObject({ failures: 0, crashes: 0, failReason: null, finishedAt: null, availableAt: clock.now() });
      expect((await store.findTask(run.id, "ok")).output).toBe("fine");
      expect((await eventsOf(store, "run.resumed", { runId: run.id })).map((e) => [e.actor, e.data])).toEqual([["ops", { reopened: 3, from: "failed" }]]);
    });

    test("a reopened task continues after its last successful step: failed steps are dropped, completed ones kept", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.recordStep(a.taskId, a.attemptId, step("fetch", 1, { output: "page" }));
      await store.recordStep(a.taskId, a.attemptId, step("parse", 2, { status: "failed", error: { message: "parser bug" } }));
      await store.failTask(a.taskId, a.attemptId, { message: "parser bug" });
      await store.resumeRun(run.id);
      expect((await store.listSteps(a.taskId)).map((s) => [s.key, s.status])).toEqual([["fetch", "completed"]]);
      const again = await claimOne(store);
      expect(again).toMatchObject({ taskId: a.taskId, attempt: 2 });
    });

    test("a resumed run ends like any other: it succeeds once its reopened tasks succeed", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      const first = await claimOne(store);
      await store.failTask(first.taskId, first.attemptId, { message: "no" });
      await store.resumeRun(run.id);
      for (const expected of ["running", "succeeded"] as const) {
        const claimed = await claimOne(store);
        expect((await store.completeTask(claimed.taskId, claimed.attemptId, null)).runState).toBe(expected);
      }
      expect(await store.getRun(run.id)).toMatchObject({ state: "succeeded", tasksOpen: 0, tasksFailed: 0 });
      expect(await eventTypes(store, { runId: run.id })).toContain("run.succeeded");
    });

    test("resuming a cancelled run reopens its cancelled tasks, and a stale attempt of it stays fenced", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      const stale = await claimOne(store);
      await store.cancelRun(run.id);
      const { reopened } = await store.resumeRun(run.id);
      expect(reopened).toBe(2);
      expect(await states(store, run.id)).toEqual({ a: "ready", b: "blocked" });
      expect((await eventsOf(store, "run.resumed", { runId: run.id }))[0]!.data).toEqual({ reopened: 2, from: "cancelled" });
      expect(await rejected(store.completeTask(stale.taskId, stale.attemptId, "stale"))).toBeInstanceOf(LeaseLostError);
      expect((await claimOne(store)).attempt).toBe(2);
    });

    test("resuming an unfinished run leaves it as it is and reopens nothing", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const events = await store.listEvents();
      const before = await store.getRun(run.id);
      expect(await store.resumeRun(run.id)).toEqual({ run: before, reopened: 0 });
      expect(await store.listEvents()).toEqual(events);
    });

    test("a succeeded run cannot be resumed: InvalidTransitionError", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, "ok");
      expect(await rejected(store.resumeRun(run.id))).toBeInstanceOf(InvalidTransitionError);
      expect((await store.getRun(run.id)).state).toBe("succeeded");
    });

    test("a planning run whose planning task failed is resumed into planning", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("g", {});
      const planning = await claimOne(store);
      await store.failTask(planning.taskId, planning.attemptId, { message: "model down" });
      expect((await store.getRun(run.id)).state).toBe("failed");
      expect(await store.resumeRun(run.id)).toMatchObject({ reopened: 1, run: { state: "planning", tasksOpen: 1 } });
      const again = await claimOne(store);
      await store.completeTask(again.taskId, again.attemptId, plan(["a"]));
      expect((await store.getRun(run.id)).state).toBe("running");
    });

    test("a task that crashed its drone up to the recovery limit starts over with no crashes when its run is resumed", async () => {
      const { store, clock } = await open({ recoveryLimit: 0 });
      const run = await store.createRun(plan(["a"]));
      await claimOne(store, "w", 1_000);
      clock.advance(1_001);
      await store.claimTasks("w", 0, 1_000);
      expect(await store.findTask(run.id, "a")).toMatchObject({ state: "failed", failReason: "recovery_limit", crashes: 1 });
      await store.resumeRun(run.id);
      expect(await store.findTask(run.id, "a")).toMatchObject({ state: "ready", crashes: 0, failReason: null });
    });
  });
}
