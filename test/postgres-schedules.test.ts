/**
 * Schedules on PostgreSQL with schedulers on several machines (a store each,
 * as another machine would have): every (schedule, slot) fires exactly once,
 * through the primary key of schedule_fires, however the schedulers interleave.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../src/core/clock.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { addSchedule, fireInput } from "../src/services/schedules.ts";
import type { Store } from "../src/store/types.ts";
import { migratedSchema, openPgStore, pgAvailable, schemasDroppedAfterEach } from "./fixtures/pg.ts";
import { freshDir } from "./helpers.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const schemas = schemasDroppedAfterEach();

const at = (iso: string) => Date.parse(iso);

describe.skipIf(!pgAvailable)("schedulers on several machines, one PostgreSQL database", () => {
  test("three schedulers, each on its own store, create exactly one run per slot over many slots", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const schema = await migratedSchema();
    schemas.push(schema);
    const stores: Store[] = [await openPgStore(schema, { clock }), await openPgStore(schema, { clock }), await openPgStore(schema, { clock })];
    const plan = join(freshDir(), "plan.json");
    writeFileSync(plan, JSON.stringify({ goal: "nightly check", tasks: [{ id: "check", title: "Check", workflow: "noop", input: {} }] }));
    await addSchedule(stores[0]!, registry, { name: "minutely", cron: "* * * * *", planFile: plan, overlap: "allow", actor: "t" });
    const schedulers = stores.map((store, i) => new Scheduler({ store, clock, id: `machine-${i}`, prepareFire: (s) => fireInput(s, registry) }));
    for (let minute = 1; minute <= 20; minute++) {
      clock.set(at("2026-01-01T00:00:00Z") + minute * 60_000 + (minute % 7) * 1_000);
      // Even minutes all at once (a race for the slot); odd ones one after the other, each time another first.
      if (minute % 2 === 0) await Promise.all(schedulers.map((s) => s.tick()));
      else for (let k = 0; k < schedulers.length; k++) await schedulers[(minute + k) % schedulers.length]!.tick();
    }
    const runs = (await stores[0]!.listRuns({ limit: 1_000 })).filter((r) => r.source === "schedule:minutely");
    expect(runs).toHaveLength(20);
    const fired = (await stores[1]!.listEvents({ limit: 10_000 })).filter((e) => e.type === "schedule.fired");
    expect(fired).toHaveLength(20);
    expect(new Set(fired.map((e) => (e.data as { slot: number }).slot)).size).toBe(20);
    expect(new Set(fired.map((e) => e.runId)).size).toBe(20);
    expect(new Set(fired.map((e) => e.actor)).size).toBeGreaterThan(1); // the slots were shared out (the one-after-the-other minutes at least)
  });
});
