/** Routes for schedules: the same operations as `farcaster schedule`, validated with zod. */
import type { Hono } from "hono";
import { z } from "zod";
import { actorText, text } from "../core/text.ts";
import { CATCH_UP_POLICIES, SCHEDULE_OVERLAPS } from "../core/states.ts";
import { addSchedule, fireNow, scheduleLog, scheduleOverview, withNextFire } from "../services/schedules.ts";
import type { ApiOptions } from "./options.ts";
import { created, segment } from "./created.ts";
import { documented } from "./openapi.ts";
import { body, query, wholeNumber } from "./validate.ts";

const AddSchedule = z
  .object({
    name: text().min(1),
    cron: text().min(1),
    timezone: text().optional(),
    overlap: z.enum(SCHEDULE_OVERLAPS).optional(),
    catchUp: z.enum(CATCH_UP_POLICIES).optional(),
    goalFile: text().optional(),
    goal: text().optional(),
    workplanFile: text().optional(),
    freeze: text().optional().describe("a goal file planned now and reused at each fire"),
    by: actorText().optional(),
  })
  .strict();

const ReadScheduleLog = z
  .object({ limit: wholeNumber({ min: 1, max: 10_000, fallback: 20 }).describe("the last N decisions, oldest first") })
  .strict();

export function scheduleRoutes(v1: Hono, options: ApiOptions): void {
  const { store, registry } = options;
  const cwd = options.cwd ?? process.cwd();
  const roots = options.goalRoots ?? [cwd];

  v1.get("/schedules", documented({ tag: "schedules", summary: "List schedules with their next fires and the last decision (fired, skipped, missed, failed), in each one's timezone" }), async (c) =>
    c.json({ schedules: await scheduleOverview(store, Date.now()) }),
  );

  v1.post("/schedules", documented({ tag: "schedules", summary: "Add a schedule", body: AddSchedule, responses: { 201: "the schedule was added" } }), async (c) => {
    const input = await body(c, AddSchedule);
    const schedule = await addSchedule(store, registry, {
      name: input.name, cron: input.cron, timezone: input.timezone, overlap: input.overlap, catchUp: input.catchUp,
      goalFile: input.goalFile, goalText: input.goal, planFile: input.workplanFile, freezeFile: input.freeze, cwd, actor: input.by ?? "api", roots,
    });
    options.onSchedulesChanged?.();
    return created(c, `/v1/schedules/${segment(schedule.name)}`, { schedule: withNextFire(schedule, Date.now()) });
  });

  v1.get("/schedules/:name", documented({ tag: "schedules", summary: "A schedule with its next fire" }), async (c) => c.json({ schedule: withNextFire(await store.getSchedule(c.req.param("name")), Date.now()) }));

  v1.get("/schedules/:name/log", documented({ tag: "schedules", summary: "What the schedule decided, oldest first (as `farcaster schedule log`)", query: ReadScheduleLog }), async (c) => {
    const q = query(c, ReadScheduleLog);
    const { schedule, decisions } = await scheduleLog(store, c.req.param("name"), q.limit);
    return c.json({ schedule: withNextFire(schedule, Date.now()), decisions });
  });

  v1.post("/schedules/:name/pause", documented({ tag: "schedules", summary: "Pause a schedule" }), async (c) => c.json({ schedule: await store.setScheduleEnabled(c.req.param("name"), false, "api") }));
  v1.post("/schedules/:name/resume", documented({ tag: "schedules", summary: "Resume a paused schedule" }), async (c) => {
    const schedule = await store.setScheduleEnabled(c.req.param("name"), true, "api");
    options.onSchedulesChanged?.();
    return c.json({ schedule });
  });

  v1.post("/schedules/:name/run", documented({ tag: "schedules", summary: "Fire a schedule now", responses: { 201: "a run was started", 200: "the fire was skipped or failed (see outcome)" } }), async (c) => {
    const { result } = await fireNow(store, registry, c.req.param("name"), "api", { roots });
    return result.outcome === "fired" ? created(c, `/v1/runs/${result.runId}`, result) : c.json(result, 200);
  });

  v1.delete("/schedules/:name", documented({ tag: "schedules", summary: "Remove a schedule" }), async (c) => {
    await store.deleteSchedule(c.req.param("name"), "api");
    return c.json({ removed: c.req.param("name") });
  });
}
