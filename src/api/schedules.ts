/** Routes for schedules: the same operations as `farcaster schedule`, validated with zod. */
import type { Hono } from "hono";
import { z } from "zod";
import { CATCH_UP_POLICIES, SCHEDULE_OVERLAPS } from "../core/states.ts";
import { addSchedule, fireNow, withNextFire } from "../services/schedules.ts";
import type { ApiOptions } from "./options.ts";
import { body } from "./validate.ts";

const AddSchedule = z
  .object({
    name: z.string().min(1),
    cron: z.string().min(1),
    timezone: z.string().optional(),
    overlap: z.enum(SCHEDULE_OVERLAPS).optional(),
    catchUp: z.enum(CATCH_UP_POLICIES).optional(),
    goalFile: z.string().optional(),
    goal: z.string().optional(),
    workplanFile: z.string().optional(),
    freeze: z.string().optional().describe("a goal file planned now and reused at each fire"),
    by: z.string().optional(),
  })
  .strict();

export function scheduleRoutes(v1: Hono, options: ApiOptions): void {
  const { store, registry } = options;
  const cwd = options.cwd ?? process.cwd();
  const roots = options.goalRoots ?? [cwd];

  v1.get("/schedules", async (c) => {
    const now = Date.now();
    return c.json({ schedules: (await store.listSchedules()).map((s) => withNextFire(s, now)) });
  });

  v1.post("/schedules", async (c) => {
    const input = await body(c, AddSchedule);
    const schedule = await addSchedule(store, registry, {
      name: input.name, cron: input.cron, timezone: input.timezone, overlap: input.overlap, catchUp: input.catchUp,
      goalFile: input.goalFile, goalText: input.goal, planFile: input.workplanFile, freezeFile: input.freeze, cwd, actor: input.by ?? "api", roots,
    });
    options.onSchedulesChanged?.();
    return c.json({ schedule: withNextFire(schedule, Date.now()) }, 201);
  });

  v1.get("/schedules/:name", async (c) => c.json({ schedule: withNextFire(await store.getSchedule(c.req.param("name")), Date.now()) }));

  v1.post("/schedules/:name/pause", async (c) => c.json({ schedule: await store.setScheduleEnabled(c.req.param("name"), false, "api") }));
  v1.post("/schedules/:name/resume", async (c) => {
    const schedule = await store.setScheduleEnabled(c.req.param("name"), true, "api");
    options.onSchedulesChanged?.();
    return c.json({ schedule });
  });

  v1.post("/schedules/:name/run", async (c) => {
    const { result } = await fireNow(store, registry, c.req.param("name"), "api");
    return c.json(result, result.outcome === "fired" ? 201 : 200);
  });

  v1.delete("/schedules/:name", async (c) => {
    await store.deleteSchedule(c.req.param("name"), "api");
    return c.json({ removed: c.req.param("name") });
  });
}
