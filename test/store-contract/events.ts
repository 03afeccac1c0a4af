/** The event log: every transition appends its typed event; ids only grow and double as cursors. */
import { describe, expect, test } from "bun:test";
import { EVENT_TYPES, type EventType } from "../../src/core/events.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, gateRequest, plan, scheduleInput, step, tasks } from "./support.ts";

/** The data keys of each event type in the catalog (src/core/events.ts): those every event has, and those it may have. */
const DATA_KEYS: Record<EventType, { required: string[]; optional?: string[] } | null> = {
  "run.created": { required: ["source"], optional: ["tasks", "waves", "planning"] },
  "run.planned": { required: ["tasks", "waves"] },
  "run.succeeded": { required: ["failedTasks"] },
  "run.failed": { required: ["failedTasks"] },
  "run.cancelled": { required: ["cancelledTasks", "reason"] },
  "run.resumed": { required: ["reopened", "from"] },
  "task.started": { required: ["attempt"] },
  "task.succeeded": { required: ["unblocked"] },
  "task.retry_scheduled": { required: ["error", "failures", "maxAttempts", "availableAt"] },
  "task.failed": { required: ["reason", "error", "skipped"] },
  "task.waiting": { required: ["reason", "until"] },
  "task.released": null,
  "task.lease_expired": { required: ["owner", "crashes"] },
  "gate.opened": { required: ["gate", "question"] },
  "gate.approved": { required: ["gate", "question", "reason", "action"] },
  "gate.rejected": { required: ["gate", "question", "reason", "action"] },
  "gate.expired": { required: ["gate", "question", "waitedMs"] },
  "gate.overdue": { required: ["gate", "question", "waitedMs"] },
  "gate.cancelled": { required: ["gate", "question"] },
  "signal.emitted": { required: ["name", "woken"] },
  "schedule.created": { required: ["schedule", "cron", "timezone"] },
  "schedule.paused": { required: ["schedule"] },
  "schedule.resumed": { required: ["schedule"] },
  "schedule.removed": { required: ["schedule"] },
  "schedule.missed": { required: ["schedule", "missed", "through", "policy"] },
  "schedule.failed": { required: ["schedule", "slot", "error"] },
  "schedule.skipped": { required: ["schedule", "slot", "running"] },
  "schedule.fired": { required: ["schedule", "slot", "cancelled"] },
};

export function eventContract(open: OpenDb): void {
  describe("events", () => {
    test("every transition appends an event with its time, actor, run, task and attempt, and event ids only grow", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(tasks({ id: "a", retries: 1 }), { actor: "cli" });
      const first = await claimOne(store, "drone-1", 1_000);
      await store.failTask(first.taskId, first.attemptId, { message: "flake" });
      clock.advance(60_000);
      const second = await claimOne(store, "drone-2", 1_000);
      await store.completeTask(second.taskId, second.attemptId, "ok");
      const events = await store.listEvents({ runId: run.id });
      expect(events.map((e) => [e.type, e.actor, e.runId, e.taskId, e.attemptId])).toEqual([
        ["run.created", "cli", run.id, null, null],
        ["task.started", "drone-1", run.id, first.taskId, first.attemptId],
        ["task.retry_scheduled", "drone-1", run.id, first.taskId, first.attemptId],
        ["task.started", "drone-2", run.id, first.taskId, second.attemptId],
        ["task.succeeded", "drone-2", run.id, first.taskId, second.attemptId],
        ["run.succeeded", "drone-2", run.id, null, null],
      ]);
      expect(events.every((e, i) => i === 0 || e.id > events[i - 1]!.id)).toBe(true);
      expect(events.map((e) => e.at)).toEqual([0, 0, 0, 60_000, 60_000, 60_000].map((dt) => clock.now() - 60_000 + dt));
      expect(events[0]!.data).toEqual({ tasks: 1, waves: 1, source: null });
    });

    test("a run's actor defaults to user, and run.created counts its tasks and waves and names its source", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b"], ["c", "a", "b"]), { source: "plan.json" });
      expect((await store.listEvents({ runId: run.id }))[0]).toMatchObject({ type: "run.created", actor: "user", data: { tasks: 3, waves: 2, source: "plan.json" } });
    });

    test("listEvents filters by run, by task, after an id and up to a limit, oldest first", async () => {
      const { store } = await open();
      const one = await store.createRun(plan(["a"], ["b"]));
      const two = await store.createRun(plan(["x"]));
      for (const claimed of await store.claimTasks("w", 3, 10_000)) await store.completeTask(claimed.taskId, claimed.attemptId, null);
      const all = await store.listEvents();
      expect(all.map((e) => e.runId).filter((id) => id === two.id)).toHaveLength(4);
      expect((await store.listEvents({ runId: one.id })).every((e) => e.runId === one.id)).toBe(true);
      const a = await store.findTask(one.id, "a");
      expect((await store.listEvents({ taskId: a.id })).map((e) => e.type)).toEqual(["task.started", "task.succeeded"]);
      expect((await store.listEvents({ runId: two.id, taskId: a.id }))).toEqual([]);
      expect((await store.listEvents({ afterId: all[2]!.id })).map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
      expect((await store.listEvents({ limit: 2 })).map((e) => e.id)).toEqual(all.slice(0, 2).map((e) => e.id));
      expect((await store.listEvents({ afterId: all[1]!.id, limit: 2 })).map((e) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
      expect(await store.listEvents({ afterId: all.at(-1)!.id })).toEqual([]);
    });

    test("events committed by another store are listed by this one, after the ids it has seen", async () => {
      const { store, another } = await open();
      const run = await store.createRun(plan(["a"]));
      const [created] = await store.listEvents();
      const other = await another();
      const claimed = await claimOne(other, "elsewhere");
      await other.completeTask(claimed.taskId, claimed.attemptId, null);
      expect((await store.listEvents({ afterId: created!.id })).map((e) => [e.type, e.actor])).toEqual([
        ["task.started", "elsewhere"],
        ["task.succeeded", "elsewhere"],
        ["run.succeeded", "elsewhere"],
      ]);
      expect((await store.getRun(run.id)).state).toBe("succeeded");
    });

    test("every event type of the catalog is appended by some transition, each with the data its type names", async () => {
      const { store, clock } = await open();
      // Schedules: created, paused, resumed, missed, failed, fired, skipped, removed.
      const schedule = await store.createSchedule(scheduleInput("cat", { overlap: "skip" }), "t");
      await store.setScheduleEnabled("cat", false, "t");
      await store.setScheduleEnabled("cat", true, "t");
      await store.recordScheduleMissed(schedule.id, clock.now() + 1, 1, "latest", "t");
      const fire = (slot: number, error?: string) => store.fireSchedule({ scheduleId: schedule.id, slot, actor: "t", goal: "g", planningInput: {}, error });
      await fire(clock.now() + 2, "broken goal");
      const fired = await fire(clock.now() + 3);
      await fire(clock.now() + 4);
      await store.deleteSchedule("cat", "t");
      // The fired planning run is planned: run.planned.
      const planning = await claimOne(store, "architect", 10_000, { runId: fired.outcome === "fired" ? fired.runId : "none" });
      await store.completeTask(planning.taskId, planning.attemptId, plan(["p"]));
      // A run whose tasks meet every other transition.
      const run = await store.createRun(tasks({ id: "crash", priority: 10 }, { id: "flaky", retries: 1 }, { id: "ok" }, { id: "no" }, { id: "expire" }, { id: "escalate" }, { id: "waiter" }, { id: "rel" }));
      await claimOne(store, "w", 100, { runId: run.id });
      const claimed = Object.fromEntries((await store.claimTasks("w", 7, 3_600_000, { runId: run.id })).map((c) => [c.key, c]));
      const suspendAtGate = (key: string, fields: Parameters<typeof gateRequest>[1] = {}) =>
        store.suspendTask(claimed[key]!.taskId, claimed[key]!.attemptId, { reason: "approval", step: step("approve", 1, { kind: "approval", status: "waiting", endedAt: null }), gate: gateRequest(`g-${key}`, fields) });
      await store.failTask(claimed.flaky!.taskId, claimed.flaky!.attemptId, { message: "flake" });
      await suspendAtGate("ok");
      await store.decideGate("g-ok", { approved: true, by: "alice" });
      await suspendAtGate("no");
      await store.decideGate("g-no", { approved: false, by: "bob", reason: "no" });
      await suspendAtGate("expire", { timeoutAt: clock.now() + 1_000 });
      await suspendAtGate("escalate", { timeoutAt: clock.now() + 1_000, onTimeout: "escalate" });
      await store.suspendTask(claimed.waiter!.taskId, claimed.waiter!.attemptId, { reason: "event", waitingFor: "sig" });
      await store.emitSignal("sig", null, "ops");
      await store.releaseTask(claimed.rel!.taskId, claimed.rel!.attemptId);
      clock.advance(1_000);
      await store.claimTasks("sweeper", 0, 1_000);
      await store.cancelRun(run.id);
      await store.resumeRun(run.id);
      // A run that succeeds, and one that fails.
      for (const [key, outcome] of [["good", "complete"], ["bad", "fail"]] as const) {
        const other = await store.createRun(plan([key]));
        const task = await claimOne(store, "w", 10_000, { runId: other.id });
        if (outcome === "complete") await store.completeTask(task.taskId, task.attemptId, null);
        else await store.failTask(task.taskId, task.attemptId, { message: "bad" });
      }

      const events = await store.listEvents({ limit: 100_000 });
      expect(EVENT_TYPES.filter((type) => !events.some((e) => e.type === type))).toEqual([]);
      for (const event of events) {
        const keys = DATA_KEYS[event.type];
        if (keys === null) {
          expect({ type: event.type, data: event.data }).toEqual({ type: event.type, data: null });
          continue;
        }
        const present = Object.keys(event.data as object);
        expect({ type: event.type, missing: keys.required.filter((k) => !present.includes(k)) }).toEqual({ type: event.type, missing: [] });
        const allowed = [...keys.required, ...(keys.optional ?? [])];
        expect({ type: event.type, unknown: present.filter((k) => !allowed.includes(k)) }).toEqual({ type: event.type, unknown: [] });
        if (event.type.startsWith("task.")) expect(event.taskId).not.toBeNull();
        if (event.type.startsWith("run.") || event.type.startsWith("task.") || event.type.startsWith("gate.")) expect(event.runId).not.toBeNull();
      }
    });
  });
}
