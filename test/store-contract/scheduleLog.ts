/** A schedule's log: what the scheduler decided about its slots, and what people did to it. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { NotFoundError } from "../../src/core/errors.ts";
import { SCHEDULE_DECISION_TYPES } from "../../src/core/events.ts";
import type { FireRequest, ScheduleRecord, Store } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { scheduleInput, tasks } from "./support.ts";

const MINUTE = 60_000;

function fire(store: Store, schedule: ScheduleRecord, slot: number, fields: Partial<FireRequest> = {}) {
  return store.fireSchedule({ scheduleId: schedule.id, slot, actor: "sched-1", goal: `goal of ${schedule.name}`, planningInput: { goal: "g", review: "none" }, ...fields });
}

export function scheduleLogContract(open: OpenDb): void {
  describe("a schedule's log", () => {
    test("lists every decision oldest first: fired with its run, skipped with the unfinished run, missed with count and policy, failed with the error", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("nightly", { overlap: "skip" }), "alice");
      const slot = clock.now();
      const fired = await fire(store, schedule, slot);
      if (fired.outcome !== "fired") throw new Error(`expected a fire, got ${fired.outcome}`);
      clock.advance(MINUTE);
      expect((await fire(store, schedule, slot + MINUTE)).outcome).toBe("skipped");
      clock.advance(MINUTE);
      expect(await store.recordScheduleMissed(schedule.id, slot + 4 * MINUTE, 2, "latest", "sched-2")).toBe(true);
      clock.advance(MINUTE);
      expect((await fire(store, schedule, slot + 5 * MINUTE, { error: "goal.md is gone", planningInput: null })).outcome).toBe("failed");

      const log = await store.listScheduleEvents("nightly");
      expect(log.map((e): unknown[] => [e.type, e.actor, e.runId, e.data])).toEqual([
        ["schedule.created", "alice", null, { schedule: "nightly", cron: "* * * * *", timezone: "UTC" }],
        ["schedule.fired", "sched-1", fired.runId, { schedule: "nightly", slot, cancelled: [] }],
        ["schedule.skipped", "sched-1", null, { schedule: "nightly", slot: slot + MINUTE, running: [fired.runId] }],
        ["schedule.missed", "sched-2", null, { schedule: "nightly", missed: 2, through: slot + 4 * MINUTE, policy: "latest" }],
        ["schedule.failed", "sched-1", null, { schedule: "nightly", slot: slot + 5 * MINUTE, error: "goal.md is gone" }],
      ]);
      expect(log.map((e) => e.at)).toEqual([slot, slot, slot + MINUTE, slot + 2 * MINUTE, slot + 3 * MINUTE]);
      expect(await store.listScheduleEvents(schedule.id)).toEqual(log);
    });

    test("keeps the last `limit` events of the types asked for, still oldest first", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("s", { overlap: "allow" }), "t");
      const slots = [0, 1, 2, 3].map((i) => clock.now() + i * MINUTE);
      for (const slot of slots) {
        await fire(store, schedule, slot);
        await store.setScheduleEnabled("s", false, "t");
        await store.setScheduleEnabled("s", true, "t");
      }
      const last = await store.listScheduleEvents("s", { limit: 2, types: SCHEDULE_DECISION_TYPES });
      expect(last.map((e): unknown[] => [e.type, "slot" in e.data ? e.data.slot : null])).toEqual([["schedule.fired", slots[2]], ["schedule.fired", slots[3]]]);
      expect((await store.listScheduleEvents("s", { limit: 1 })).map((e) => e.type)).toEqual(["schedule.resumed"]);
      expect((await store.listScheduleEvents("s")).length).toBe(1 + 4 * 3);
    });

    test("holds only this schedule's events: not another schedule's, not those of a removed schedule that had the same name, not the runs' own", async () => {
      const { store, clock } = await open();
      const old = await store.createSchedule(scheduleInput("daily"), "t");
      await fire(store, old, clock.now());
      await store.deleteSchedule("daily", "t");
      clock.advance(MINUTE);
      const other = await store.createSchedule(scheduleInput("other"), "t");
      await fire(store, other, clock.now());
      const schedule = await store.createSchedule(scheduleInput("daily", { cron: "0 9 * * *" }), "bob");
      await store.createRun(tasks({ id: "unrelated" }));
      await store.emitSignal("deployed", null, "t");
      const fired = await fire(store, schedule, clock.now() + MINUTE);
      if (fired.outcome !== "fired") throw new Error(`expected a fire, got ${fired.outcome}`);
      const log = await store.listScheduleEvents("daily");
      expect(log.map((e) => [e.type, e.runId])).toEqual([["schedule.created", null], ["schedule.fired", fired.runId]]);
      expect(log[0]).toMatchObject({ actor: "bob", data: { cron: "0 9 * * *" } });
      expect((await store.listScheduleEvents("other")).map((e) => e.type)).toEqual(["schedule.created", "schedule.fired"]);
    });

    test("a readonly store reads it too, and an unknown schedule is NotFoundError", async () => {
      const { store, reader } = await open();
      await store.createSchedule(scheduleInput("r"), "t");
      const viewer = await reader();
      expect((await viewer.listScheduleEvents("r")).map((e) => e.type)).toEqual(["schedule.created"]);
      expect(await rejected(store.listScheduleEvents("nope"))).toBeInstanceOf(NotFoundError);
      expect(await rejected(viewer.listScheduleEvents("nope"))).toMatchObject({ code: "schedule_not_found" });
    });
  });
}
