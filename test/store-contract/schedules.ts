/** Schedules and their fires: each (schedule, slot) fires exactly once, however many schedulers ask. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { ConflictError, InputError, NotFoundError } from "../../src/core/errors.ts";
import type { FireRequest, ScheduleRecord, Store } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { eventsOf, scheduleInput } from "./support.ts";

const MINUTE = 60_000;

function fire(store: Store, schedule: ScheduleRecord, slot: number, fields: Partial<FireRequest> = {}) {
  return store.fireSchedule({ scheduleId: schedule.id, slot, actor: "sched-1", goal: `goal of ${schedule.name}`, planningInput: { goal: "g", review: "none" }, ...fields });
}

/** The runs a schedule created, oldest first (runs created in one millisecond are in no particular order). */
async function scheduledRuns(store: Store, name: string) {
  return (await store.listRuns({ source: `schedule:${name}`, limit: 1_000 })).reverse();
}

export function scheduleContract(open: OpenDb): void {
  describe("schedules", () => {
    test("a new schedule is enabled, has fired no slot yet, and reads back by name and by id", async () => {
      const { store, clock } = await open();
      const created = await store.createSchedule(scheduleInput("nightly", { cron: "0 3 * * *", timezone: "Europe/Berlin", cwd: "/work", overlap: "skip", catchUp: "all", targetKind: "workplan", target: '{"goal":"g"}' }), "alice");
      expect(created).toEqual({
        id: expect.any(String), name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", targetKind: "workplan", target: '{"goal":"g"}', cwd: "/work",
        overlap: "skip", catchUp: "all", enabled: true, approvalHash: null, approvedHash: null, lastSlot: null, createdAt: clock.now(), updatedAt: clock.now(),
      });
      expect(await store.getSchedule("nightly")).toEqual(created);
      expect(await store.getSchedule(created.id)).toEqual(created);
      expect((await store.createSchedule(scheduleInput("bare"), "alice")).cwd).toBeNull();
      const [event] = await eventsOf(store, "schedule.created");
      expect(event).toMatchObject({ actor: "alice", runId: null, data: { schedule: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin" } });
    });

    test("a second schedule with a name already taken is refused with ConflictError, and the first is unchanged", async () => {
      const { store } = await open();
      const first = await store.createSchedule(scheduleInput("x", { cron: "0 9 * * *" }), "t");
      expect(await rejected(store.createSchedule(scheduleInput("x", { cron: "0 10 * * *" }), "t"))).toBeInstanceOf(ConflictError);
      expect((await rejected(store.createSchedule(scheduleInput("x"), "t"))).message).toContain('a schedule named "x" already exists');
      expect(await store.listSchedules()).toEqual([first]);
    });

    test("listSchedules lists every schedule by name, or only the enabled ones", async () => {
      const { store } = await open();
      for (const name of ["zeta", "alpha", "mid"]) await store.createSchedule(scheduleInput(name), "t");
      await store.setScheduleEnabled("mid", false, "t");
      expect((await store.listSchedules()).map((s) => [s.name, s.enabled])).toEqual([["alpha", true], ["mid", false], ["zeta", true]]);
      expect((await store.listSchedules({ enabledOnly: true })).map((s) => s.name)).toEqual(["alpha", "zeta"]);
    });

    test("pausing and resuming appends schedule.paused and schedule.resumed; a resumed schedule counts its slots from now", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("p"), "t");
      clock.advance(MINUTE);
      expect(await store.setScheduleEnabled("p", false, "bob")).toMatchObject({ enabled: false, lastSlot: null, updatedAt: clock.now() });
      clock.advance(10 * MINUTE);
      expect(await store.setScheduleEnabled(schedule.id, true, "carol")).toMatchObject({ enabled: true, lastSlot: clock.now(), updatedAt: clock.now() });
      expect((await eventsOf(store, "schedule.paused")).map((e) => [e.actor, e.data])).toEqual([["bob", { schedule: "p" }]]);
      expect((await eventsOf(store, "schedule.resumed")).map((e) => [e.actor, e.data])).toEqual([["carol", { schedule: "p" }]]);
    });

    test("deleting a schedule removes it with schedule.removed, and the runs it created stay", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("gone"), "t");
      const fired = await fire(store, schedule, clock.now());
      await store.deleteSchedule("gone", "dave");
      expect(await rejected(store.getSchedule("gone"))).toBeInstanceOf(NotFoundError);
      expect(await store.listSchedules()).toEqual([]);
      expect((await eventsOf(store, "schedule.removed")).map((e) => [e.actor, e.data])).toEqual([["dave", { schedule: "gone" }]]);
      expect(fired.outcome).toBe("fired");
      if (fired.outcome === "fired") expect((await store.getRun(fired.runId)).source).toBe("schedule:gone");
    });

    test("an unknown schedule is NotFoundError to read, pause, delete and fire", async () => {
      const { store } = await open();
      expect(await rejected(store.getSchedule("nope"))).toMatchObject({ code: "schedule_not_found" });
      expect(await rejected(store.setScheduleEnabled("nope", false, "t"))).toBeInstanceOf(NotFoundError);
      expect(await rejected(store.deleteSchedule("nope", "t"))).toBeInstanceOf(NotFoundError);
      expect(await rejected(store.fireSchedule({ scheduleId: "snope", slot: 1, actor: "t", goal: "g", planningInput: null }))).toBeInstanceOf(NotFoundError);
    });

    test("firing a slot creates a planning run with the schedule's source, cwd and an idempotency key, moves lastSlot, and appends schedule.fired", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("nightly", { cwd: "/work/site" }), "t");
      const slot = clock.now() + MINUTE;
      clock.set(slot + 1_500);
      const result = await fire(store, schedule, slot);
      if (result.outcome !== "fired") throw new Error(`expected a fire, got ${result.outcome}`);
      const run = await store.getRun(result.runId);
      expect(run).toMatchObject({ state: "planning", goal: "goal of nightly", source: "schedule:nightly", cwd: "/work/site", idempotencyKey: expect.any(String) });
      expect((await store.listTasks(run.id)).map((t) => [t.key, t.input])).toEqual([["@plan", { goal: "g", review: "none" }]]);
      expect((await store.getSchedule("nightly")).lastSlot).toBe(slot);
      const [fired] = await eventsOf(store, "schedule.fired");
      expect(fired).toMatchObject({ actor: "sched-1", runId: run.id, data: { schedule: "nightly", slot, cancelled: [] } });
      expect((await eventsOf(store, "run.created", { runId: run.id }))[0]!.actor).toBe("sched-1");
    });

    test("a slot fires exactly once: asking again is a duplicate that writes nothing", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("once"), "t");
      const slot = clock.now();
      expect((await fire(store, schedule, slot)).outcome).toBe("fired");
      const before = await store.listEvents();
      expect(await fire(store, schedule, slot, { actor: "sched-2" })).toEqual({ outcome: "duplicate" });
      expect(await store.listEvents()).toEqual(before);
      expect(await scheduledRuns(store, "once")).toHaveLength(1);
    });

    test("a manual fire is never a duplicate: in a millisecond that already has a fire it takes the next free slot", async () => {
      const { store, another, clock } = await open();
      const other = await another();
      const schedule = await store.createSchedule(scheduleInput("by-hand", { overlap: "allow" }), "t");
      const at = clock.now();
      expect((await fire(store, schedule, at)).outcome).toBe("fired"); // the scheduler's fire of this slot
      // Two people run it by hand in that same millisecond, through two stores (`schedule run`, POST /v1/schedules/:name/run).
      const [one, two] = await Promise.all([fire(store, schedule, at, { manual: true, actor: "ann" }), fire(other, schedule, at, { manual: true, actor: "bob" })]);
      expect([one.outcome, two.outcome]).toEqual(["fired", "fired"]);
      expect((await eventsOf(store, "schedule.fired")).map((e) => (e.data as { slot: number }).slot).sort()).toEqual([at, at + 1, at + 2]);
      expect(await scheduledRuns(store, "by-hand")).toHaveLength(3);
      expect((await store.getSchedule("by-hand")).lastSlot).toBe(at + 2);
    });

    test("two stores firing the same slots at once create exactly one run per slot", async () => {
      const { store, another, clock } = await open();
      const others = [await another(), await another()];
      const schedule = await store.createSchedule(scheduleInput("minutely"), "t");
      const slots = Array.from({ length: 10 }, (_, i) => clock.now() + i * MINUTE);
      const results = await Promise.all(slots.flatMap((slot) => [store, ...others].map((s, i) => fire(s, schedule, slot, { actor: `sched-${i}` }))));
      expect(results.filter((r) => r.outcome === "fired")).toHaveLength(10);
      expect(results.filter((r) => r.outcome === "duplicate")).toHaveLength(20);
      const fired = await eventsOf(store, "schedule.fired");
      expect(fired.map((e) => e.data.slot).sort((a, b) => a - b)).toEqual(slots);
      expect(new Set(fired.map((e) => e.runId)).size).toBe(10);
      expect(await scheduledRuns(store, "minutely")).toHaveLength(10);
      expect((await store.getSchedule("minutely")).lastSlot).toBe(slots.at(-1)!);
    });

    test("overlap skip: a slot that comes while the previous run is unfinished is skipped, naming that run, and creates nothing", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("slow", { overlap: "skip" }), "t");
      const first = await fire(store, schedule, clock.now());
      if (first.outcome !== "fired") throw new Error("the first slot should fire");
      const slot = clock.now() + MINUTE;
      const skipped = await fire(store, schedule, slot);
      expect(skipped).toEqual({ outcome: "skipped", detail: expect.stringContaining(first.runId) });
      expect((await eventsOf(store, "schedule.skipped")).map((e) => e.data)).toEqual([{ schedule: "slow", slot, running: [first.runId] }]);
      expect(await scheduledRuns(store, "slow")).toHaveLength(1);
      expect((await store.getSchedule("slow")).lastSlot).toBe(slot);
      expect(await fire(store, schedule, slot)).toEqual({ outcome: "duplicate" });
    });

    test("overlap skip fires again once the previous run has finished", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("slow", { overlap: "skip" }), "t");
      const first = await fire(store, schedule, clock.now());
      if (first.outcome !== "fired") throw new Error("the first slot should fire");
      await store.cancelRun(first.runId);
      expect((await fire(store, schedule, clock.now() + MINUTE)).outcome).toBe("fired");
    });

    test("overlap allow: a slot fires while the previous run is unfinished, and both run", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("both", { overlap: "allow" }), "t");
      await fire(store, schedule, clock.now());
      expect((await fire(store, schedule, clock.now() + MINUTE)).outcome).toBe("fired");
      expect((await scheduledRuns(store, "both")).map((r) => r.state)).toEqual(["planning", "planning"]);
    });

    test("overlap cancel-previous: the unfinished run is cancelled, a new one starts, and schedule.fired names the one it cancelled", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("replace", { overlap: "cancel-previous" }), "t");
      const firstSlot = clock.now();
      const first = await fire(store, schedule, firstSlot);
      if (first.outcome !== "fired") throw new Error("the first slot should fire");
      clock.advance(MINUTE);
      const slot = clock.now();
      const second = await fire(store, schedule, slot);
      expect(second.outcome).toBe("fired");
      expect((await scheduledRuns(store, "replace")).map((r) => r.state)).toEqual(["cancelled", "planning"]);
      const [cancelled] = await eventsOf(store, "run.cancelled", { runId: first.runId });
      expect(cancelled).toMatchObject({ actor: "sched-1", data: { cancelledTasks: 1, reason: expect.stringContaining("replace") } });
      expect((await eventsOf(store, "schedule.fired")).map((e) => e.data)).toEqual([
        { schedule: "replace", slot: firstSlot, cancelled: [] },
        { schedule: "replace", slot, cancelled: [first.runId] },
      ]);
    });

    test("a fire for a paused schedule returns paused and writes nothing; a manual fire runs it all the same", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("p"), "t");
      await store.setScheduleEnabled("p", false, "t");
      const before = await store.listEvents();
      const slot = clock.now() + MINUTE;
      expect(await fire(store, schedule, slot)).toEqual({ outcome: "paused" });
      expect(await store.listEvents()).toEqual(before);
      expect(await scheduledRuns(store, "p")).toEqual([]);
      expect((await store.getSchedule("p")).lastSlot).toBeNull();
      expect((await fire(store, schedule, slot, { manual: true, actor: "person" })).outcome).toBe("fired");
      expect(await scheduledRuns(store, "p")).toHaveLength(1);
    });

    test("a slot refused while paused is not spent: it fires once the schedule is resumed", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("p"), "t");
      await store.setScheduleEnabled("p", false, "t");
      const slot = clock.now() + MINUTE;
      expect((await fire(store, schedule, slot)).outcome).toBe("paused");
      await store.setScheduleEnabled("p", true, "t");
      expect((await fire(store, schedule, slot)).outcome).toBe("fired");
    });

    test("a fire whose goal could not be prepared is recorded as failed with schedule.failed, creates no run, and spends its slot", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("brittle"), "t");
      const slot = clock.now();
      expect(await fire(store, schedule, slot, { error: 'unknown task "nowhere"' })).toEqual({ outcome: "failed", detail: 'unknown task "nowhere"' });
      expect((await eventsOf(store, "schedule.failed")).map((e) => e.data)).toEqual([{ schedule: "brittle", slot, error: 'unknown task "nowhere"' }]);
      expect(await scheduledRuns(store, "brittle")).toEqual([]);
      expect((await store.getSchedule("brittle")).lastSlot).toBe(slot);
      expect(await fire(store, schedule, slot)).toEqual({ outcome: "duplicate" });
    });

    test("missed slots are recorded once: the first scheduler gets true and the one schedule.missed event, any other false", async () => {
      const { store, another, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("hourly"), "t");
      const through = clock.now() + 4 * 3_600_000;
      expect(await store.recordScheduleMissed(schedule.id, through, 4, "latest", "sched-1")).toBe(true);
      expect(await store.recordScheduleMissed(schedule.id, through, 4, "latest", "sched-2")).toBe(false);
      expect(await (await another()).recordScheduleMissed(schedule.id, through, 4, "latest", "sched-3")).toBe(false);
      expect(await store.recordScheduleMissed(schedule.id, through - 3_600_000, 3, "latest", "sched-4")).toBe(false);
      expect((await store.getSchedule("hourly")).lastSlot).toBe(through);
      expect((await eventsOf(store, "schedule.missed")).map((e) => [e.actor, e.data])).toEqual([["sched-1", { schedule: "hourly", missed: 4, through, policy: "latest" }]]);
    });

    test("moving past slots with none missed moves lastSlot without a schedule.missed event", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("hourly"), "t");
      expect(await store.recordScheduleMissed(schedule.id, clock.now(), 0, "none", "sched-1")).toBe(true);
      expect((await store.getSchedule("hourly")).lastSlot).toBe(clock.now());
      expect(await eventsOf(store, "schedule.missed")).toEqual([]);
    });
  });
}
