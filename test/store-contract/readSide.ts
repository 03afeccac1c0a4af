/** The read side: snapshots (readRun), followers of the event log and of task output, read-only stores, closing. */
import { describe, expect, test } from "bun:test";
import { ReadOnlyStoreError, StoreClosedError } from "../../src/core/errors.ts";
import type { Store } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, gateRequest, observe, plan, runWaitingAtGate, scheduleInput, step, until } from "./support.ts";

/** Runs a follower to its end in the background; `seen` fills as it goes. */
function collect<T, R>(iterable: AsyncIterable<T>, map: (item: T) => R) {
  const seen: R[] = [];
  const done = (async () => {
    for await (const item of iterable) seen.push(map(item));
  })();
  return { seen, done };
}

export function readSideContract(open: OpenDb): void {
  describe("snapshots", () => {
    test("readRun returns the run, its tasks and gates, and its events after a cursor, as one snapshot", async () => {
      const { store } = await open();
      const { run, gateId } = await runWaitingAtGate(store, {}, ["next"]);
      const all = await store.readRun(run.id, { eventsAfter: 0 });
      expect(all.run).toEqual(await store.getRun(run.id));
      expect(all.tasks).toEqual(await store.listTasks(run.id));
      expect(all.gates.map((g) => [g.id, g.state])).toEqual([[gateId, "pending"]]);
      expect(all.events.map((e) => e.type).sort()).toEqual(["gate.opened", "run.created", "task.started", "task.waiting"]);
      const later = await store.readRun(run.id, { eventsAfter: all.events[1]!.id });
      expect(later.events.map((e) => e.id)).toEqual(all.events.slice(2).map((e) => e.id));
      expect((await store.readRun(run.id, { eventsAfter: 0, eventLimit: 1 })).events.map((e) => e.type)).toEqual(["run.created"]);
    });

    test("readRun without a cursor returns no events, and only the run's own gates and events", async () => {
      const { store } = await open();
      const one = await runWaitingAtGate(store);
      const two = await runWaitingAtGate(store);
      expect((await store.readRun(one.run.id)).events).toEqual([]);
      const snapshot = await store.readRun(one.run.id, { eventsAfter: 0 });
      expect(snapshot.gates.map((g) => g.id)).toEqual([one.gateId]);
      expect(snapshot.events.every((e) => e.runId === one.run.id)).toBe(true);
      expect((await store.readRun(two.run.id)).gates.map((g) => g.id)).toEqual([two.gateId]);
    });
  });

  describe("following", () => {
    test("followEvents catches up on what was written, then yields each new event until its signal aborts", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      const stop = new AbortController();
      const follower = collect(store.followEvents({ runId: run.id, signal: stop.signal }), (e) => e.type);
      await until(() => follower.seen.length === 1, 5_000, "the catch-up read");
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, 1);
      await until(() => follower.seen.length === 3, 5_000, "the new events");
      stop.abort();
      await follower.done;
      expect(follower.seen).toEqual(["run.created", "task.started", "task.succeeded"]);
    });

    test("a follower on a reader sees what another store commits without being told", async () => {
      const { store, another, reader } = await open();
      const run = await store.createRun(plan(["a"]));
      const writer = await another();
      const viewer = await reader();
      const stop = new AbortController();
      const follower = collect(viewer.followEvents({ runId: run.id, signal: stop.signal }), (e) => e.type);
      await until(() => follower.seen.length === 1, 5_000, "the catch-up read");
      const claimed = await claimOne(writer, "elsewhere");
      await writer.completeTask(claimed.taskId, claimed.attemptId, "done");
      await until(() => follower.seen.includes("run.succeeded"), 10_000, "the other store's commits");
      stop.abort();
      await follower.done;
      expect(follower.seen).toEqual(["run.created", "task.started", "task.succeeded", "run.succeeded"]);
    });

    test("a commit made while a follower hands out an event wakes the follower at once, not at its fallback poll", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const stop = new AbortController();
      let committedAt = 0;
      let seenAt = 0;
      for await (const event of store.followEvents({ runId: run.id, signal: stop.signal })) {
        if (event.type === "run.created") {
          // The consumer writes before it asks for the next event, as the live view's actions do.
          await store.claimTasks("w", 1, 10_000);
          committedAt = performance.now();
        } else {
          seenAt = performance.now();
          stop.abort();
        }
      }
      expect(seenAt - committedAt).toBeLessThan(500);
    });

    test("a follower on a reader sees a commit another store made while it handed out an event at once, not at its fallback poll", async () => {
      const { store, reader } = await open();
      const viewer = await reader();
      const run = await store.createRun(plan(["a"]));
      const stop = new AbortController();
      let committedAt = 0;
      let seenAt = 0;
      for await (const event of viewer.followEvents({ runId: run.id, signal: stop.signal })) {
        if (event.type === "run.created") {
          await store.claimTasks("w", 1, 10_000);
          committedAt = performance.now();
        } else {
          seenAt = performance.now();
          stop.abort();
        }
      }
      expect(seenAt - committedAt).toBeLessThan(500);
    });

    test("until ends a follower once it holds, after everything written before it held is read", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"]));
      let ended = false;
      const follower = collect(store.followEvents({ runId: run.id, until: () => ended }), (e) => e.type);
      for (let i = 0; i < 2; i++) {
        const claimed = await claimOne(store);
        await store.completeTask(claimed.taskId, claimed.attemptId, i);
      }
      ended = true;
      await follower.done;
      expect(follower.seen).toEqual(["run.created", "task.started", "task.succeeded", "task.started", "task.succeeded", "run.succeeded"]);
    });

    test("followEvents starts after its cursor and keeps to its run and task, reading in batches without losing any", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(...Array.from({ length: 12 }, (_, i) => [`t${i}`] as [string])));
      await store.createRun(plan(["elsewhere"]));
      for (const claimed of await store.claimTasks("w", 13, 10_000)) await store.completeTask(claimed.taskId, claimed.attemptId, null);
      const expected = await store.listEvents({ runId: run.id });
      const ofRun = collect(store.followEvents({ runId: run.id, after: expected[0]!.id, batch: 5, until: () => true }), (e) => e.id);
      await ofRun.done;
      expect(ofRun.seen).toEqual(expected.slice(1).map((e) => e.id));
      const t3 = await store.findTask(run.id, "t3");
      const ofTask = collect(store.followEvents({ taskId: t3.id, until: () => true }), (e) => e.type);
      await ofTask.done;
      expect(ofTask.seen).toEqual(["task.started", "task.succeeded"]);
    });

    test("followLogs catches up on a task's output, follows what is appended, including by another store, and ends with until", async () => {
      const { store, another } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const [a, b] = await store.claimTasks("w", 2, 10_000);
      await store.appendLogs(a!.taskId, a!.attemptId, [{ stream: "stdout", text: "one\n" }]);
      let ended = false;
      const follower = collect(store.followLogs(a!.taskId, { until: () => ended }), (l) => l.text);
      await until(() => follower.seen.length === 1, 5_000, "the catch-up read");
      await store.appendLogs(b!.taskId, b!.attemptId, [{ stream: "stdout", text: "not a's\n" }]);
      await store.appendLogs(a!.taskId, a!.attemptId, [{ stream: "stderr", text: "two\n" }]);
      await (await another()).appendLogs(a!.taskId, a!.attemptId, [{ stream: "stdout", text: "three\n" }]);
      await until(() => follower.seen.length === 3, 10_000, "the appended output");
      ended = true;
      await follower.done;
      expect(follower.seen).toEqual(["one\n", "two\n", "three\n"]);
      const afterFirst = (await store.listLogs(a!.taskId))[0]!.id;
      const rest = collect(store.followLogs(a!.taskId, { after: afterFirst, until: () => true }), (l) => l.text);
      await rest.done;
      expect(rest.seen).toEqual(["two\n", "three\n"]);
    });

    test("closing a store ends its followers instead of leaving them waiting", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      const events = collect(store.followEvents({ runId: run.id }), (e) => e.type);
      const logs = collect(store.followLogs(a.taskId), (l) => l.text);
      await store.appendLogs(a.taskId, a.attemptId, [{ stream: "stdout", text: "one\n" }]);
      await until(() => events.seen.length === 2 && logs.seen.length === 1, 5_000, "both followers caught up");
      await store.close();
      const settled = await Promise.allSettled([events.done, logs.done]);
      expect(settled).toHaveLength(2);
      expect(events.seen).toEqual(["run.created", "task.started"]);
      expect(logs.seen).toEqual(["one\n"]);
    });
  });

  describe("read-only stores and closing", () => {
    test("a read-only store says so, and reads what writers commit after it opened", async () => {
      const { store, reader } = await open();
      const viewer = await reader();
      expect(viewer.readOnly).toBe(true);
      expect(store.readOnly).toBe(false);
      expect(viewer.dialect).toBe(store.dialect);
      expect(["sqlite", "postgres"]).toContain(store.dialect);
      const { run, gateId, taskId } = await runWaitingAtGate(store);
      await store.createSchedule(scheduleInput("nightly"), "t");
      await store.emitSignal("ready", { v: 1 }, "ops");
      expect(await viewer.getRun(run.id)).toEqual(await store.getRun(run.id));
      expect(await viewer.listTasks(run.id)).toEqual(await store.listTasks(run.id));
      expect(await viewer.getGate(gateId)).toEqual(await store.getGate(gateId));
      expect(await viewer.listSteps(taskId)).toEqual(await store.listSteps(taskId));
      expect(await viewer.listAttempts(taskId)).toEqual(await store.listAttempts(taskId));
      expect(await viewer.listEvents()).toEqual(await store.listEvents());
      expect(await viewer.readRun(run.id, { eventsAfter: 0 })).toEqual(await store.readRun(run.id, { eventsAfter: 0 }));
      expect(await viewer.listSchedules()).toEqual(await store.listSchedules());
      expect(await viewer.getSignal("ready")).toEqual(await store.getSignal("ready"));
    });

    test("a read-only store refuses every write with ReadOnlyStoreError, and nothing changes", async () => {
      const { store, reader } = await open();
      const viewer = await reader();
      const { run, gateId } = await runWaitingAtGate(store, {}, ["next"]);
      await store.createRun(plan(["other"]));
      const running = await claimOne(store);
      const schedule = await store.createSchedule(scheduleInput("nightly"), "t");
      const before = { run: await observe(store, run.id), schedules: await store.listSchedules(), runs: await store.listRuns() };
      const { taskId, attemptId } = running;
      const writes: [string, () => Promise<unknown>][] = [
        ["createRun", () => viewer.createRun(plan(["b"]))],
        ["createPlanningRun", () => viewer.createPlanningRun("g", {})],
        ["claimTasks", () => viewer.claimTasks("w", 1, 1_000)],
        ["claimTasks (upkeep)", () => viewer.claimTasks("w", 0, 1_000)],
        ["extendLease", () => viewer.extendLease(taskId, attemptId, 1_000)],
        ["recordStep", () => viewer.recordStep(taskId, attemptId, step("s", 1))],
        ["completeTask", () => viewer.completeTask(taskId, attemptId, null)],
        ["failTask", () => viewer.failTask(taskId, attemptId, { message: "x" })],
        ["suspendTask", () => viewer.suspendTask(taskId, attemptId, { reason: "x", gate: gateRequest("g-ro") })],
        ["releaseTask", () => viewer.releaseTask(taskId, attemptId)],
        ["cancelRun", () => viewer.cancelRun(run.id)],
        ["resumeRun", () => viewer.resumeRun(run.id)],
        ["decideGate", () => viewer.decideGate(gateId, { approved: true, by: "a" })],
        ["appendLogs", () => viewer.appendLogs(taskId, attemptId, [{ stream: "stdout", text: "x" }])],
        ["createSchedule", () => viewer.createSchedule(scheduleInput("another"), "t")],
        ["setScheduleEnabled", () => viewer.setScheduleEnabled("nightly", false, "t")],
        ["deleteSchedule", () => viewer.deleteSchedule("nightly", "t")],
        ["fireSchedule", () => viewer.fireSchedule({ scheduleId: schedule.id, slot: 1, actor: "t", goal: "g", planningInput: {} })],
        ["recordScheduleMissed", () => viewer.recordScheduleMissed(schedule.id, 10, 1, "latest", "t")],
        ["emitSignal", () => viewer.emitSignal("go", null, "t")],
      ];
      for (const [name, write] of writes) {
        const error = await write().then(() => null, (e: unknown) => e);
        expect({ name, refused: error instanceof ReadOnlyStoreError, code: (error as { code?: string })?.code }).toEqual({ name, refused: true, code: "store_read_only" });
      }
      expect({ run: await observe(store, run.id), schedules: await store.listSchedules(), runs: await store.listRuns() }).toEqual(before);
      expect(await store.getSignal("go")).toBeNull();
    });

    test("closing a store twice is harmless, for writers and readers alike", async () => {
      const { store, another, reader } = await open();
      const stores: Store[] = [store, await another(), await reader()];
      for (const s of stores) {
        await s.close();
        await s.close();
      }
    });

    test("a closed store refuses a write with StoreClosedError naming it, and writes nothing", async () => {
      const { store, another } = await open();
      const closing = await another();
      const run = await store.createRun(plan(["a"]));
      const claimed = await claimOne(store);
      await closing.close();
      for (const [name, write] of [
        ["claiming tasks", () => closing.claimTasks("w", 1, 1_000)],
        ["completing a task", () => closing.completeTask(claimed.taskId, claimed.attemptId, null)],
        ["creating a run", () => closing.createRun(plan(["b"]))],
      ] as const) {
        const error = await write().then(() => null, (e: unknown) => e);
        expect({ code: (error as { code?: string })?.code, message: (error as Error)?.message }).toEqual({ code: "store_closed", message: `${name}: the store is closed` });
        expect(error).toBeInstanceOf(StoreClosedError);
      }
      expect((await store.getTask(claimed.taskId)).state).toBe("running");
      expect((await store.listRuns()).map((r) => r.id)).toEqual([run.id]);
    });

    test("every readRun is consistent with itself while another store completes the run's tasks", async () => {
      const { store, another } = await open();
      const writer = await another();
      const run = await store.createRun(plan(...Array.from({ length: 30 }, (_, i) => [`t${i}`] as [string])));
      const working = (async () => {
        for (;;) {
          const [claimed] = await writer.claimTasks("w", 1, 10_000);
          if (!claimed) return;
          await writer.completeTask(claimed.taskId, claimed.attemptId, null);
        }
      })();
      let done = false;
      void working.then(() => (done = true));
      let snapshots = 0;
      while (!done || snapshots === 0) {
        const { run: seen, tasks, events } = await store.readRun(run.id, { eventsAfter: 0 });
        const open = tasks.filter((t) => t.state !== "succeeded").length;
        expect({ tasksOpen: seen.tasksOpen, succeededEvents: events.filter((e) => e.type === "task.succeeded").length }).toEqual({ tasksOpen: open, succeededEvents: 30 - open });
        snapshots++;
        await new Promise((resolve) => setImmediate(resolve)); // a reader that never yields would starve the writer of this process
      }
      await working;
      expect((await store.getRun(run.id)).state).toBe("succeeded");
    });
  });
}
