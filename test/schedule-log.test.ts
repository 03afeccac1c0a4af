import { beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/api/app.ts";
import { ManualClock } from "../src/core/clock.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { addSchedule, fireInput, withNextFire } from "../src/services/schedules.ts";
import { zonedTime } from "../src/view/schedules.ts";
import { farcaster } from "./cli-helpers.ts";
import { freshDir, freshStore, openTestStore } from "./helpers.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const at = (iso: string) => Date.parse(iso);
const GOAL = "# Morning report\n\n## report: Write the report\nworkflow: noop\ninput: {}\n";

describe("times in a schedule's own timezone", () => {
  test("zonedTime shows the wall clock of the zone with its offset then, in winter, in summer, at a half-hour offset and in UTC", () => {
    expect(zonedTime(at("2026-11-26T08:00:00Z"), "Europe/Berlin")).toBe("2026-11-26T09:00:00+01:00");
    expect(zonedTime(at("2026-07-01T07:00:00Z"), "Europe/Berlin")).toBe("2026-07-01T09:00:00+02:00");
    expect(zonedTime(at("2026-11-26T03:30:00Z"), "Asia/Kolkata")).toBe("2026-11-26T09:00:00+05:30");
    expect(zonedTime(at("2026-11-26T14:00:00Z"), "America/New_York")).toBe("2026-11-26T09:00:00-05:00");
    expect(zonedTime(at("2026-11-26T00:00:00Z"), "UTC")).toBe("2026-11-26T00:00:00+00:00");
  });

  test("the next three fire times are in the schedule's zone and change offset across a DST change; a paused schedule has none", async () => {
    const { store } = freshStore();
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    const schedule = await addSchedule(store, registry, { name: "standup", cron: "0 9 * * *", timezone: "Europe/Berlin", goalFile: "goal.md", cwd: dir, actor: "t" });
    // Berlin leaves summer time on 25 October 2026.
    const shown = withNextFire(schedule, at("2026-10-24T12:00:00Z"));
    expect(shown.nextFires).toEqual(["2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00", "2026-10-27T09:00:00+01:00"]);
    expect(withNextFire(schedule, at("2026-10-23T12:00:00Z")).nextFires[0]).toBe("2026-10-24T09:00:00+02:00");
    expect(shown.nextFireAt).toBe(at("2026-10-25T08:00:00Z"));
    const paused = await store.setScheduleEnabled("standup", false, "t");
    expect(withNextFire(paused, at("2026-10-24T12:00:00Z"))).toMatchObject({ nextFireAt: null, nextFires: [] });
  });
});

describe("schedule list and schedule log", () => {
  /** A Europe/Berlin schedule that fired, was skipped, missed slots and failed, as a scheduler with a ManualClock decided. */
  async function historyOf() {
    const clock = new ManualClock(at("2026-11-20T07:00:00Z"));
    const { store, path } = freshStore({ clock });
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    await addSchedule(store, registry, { name: "morning", cron: "0 9 * * *", timezone: "Europe/Berlin", goalFile: "goal.md", cwd: dir, actor: "alice" });
    const scheduler = new Scheduler({ store, clock, id: "sched-1", prepareFire: (s) => fireInput(s, registry) });
    clock.set(at("2026-11-20T08:00:05Z"));
    await scheduler.tick(); // fires; no drone runs it, so the run stays unfinished
    const [run] = await store.listRuns({ source: "schedule:morning" });
    clock.set(at("2026-11-21T08:00:05Z"));
    await scheduler.tick(); // skipped: the run is unfinished
    clock.set(at("2026-11-25T08:00:05Z"));
    await scheduler.tick(); // down since the 21st: 22, 23 and 24 missed, the 25th skipped
    await store.cancelRun(run!.id, { actor: "alice" });
    rmSync(join(dir, "goal.md"));
    clock.set(at("2026-11-26T08:00:05Z"));
    await scheduler.tick(); // failed: the goal file is gone
    await store.close();
    return { db: path, runId: run!.id, dir };
  }

  test("schedule log --json lists every decision in the schedule's timezone: fired with its run, skipped, missed with count and policy, failed with the error", async () => {
    const { db, runId, dir } = await historyOf();
    const result = await farcaster(["schedule", "log", "morning", "--json", "--db", db], { cwd: dir });
    expect(result.code).toBe(0);
    const { schedule, decisions } = JSON.parse(result.stdout);
    expect(schedule).toMatchObject({ name: "morning", timezone: "Europe/Berlin" });
    expect(decisions.map((d: any) => [d.decision, d.slotLocal, d.runId, d.actor])).toEqual([
      ["created", null, null, "alice"],
      ["fired", "2026-11-20T09:00:00+01:00", runId, "sched-1"],
      ["skipped", "2026-11-21T09:00:00+01:00", null, "sched-1"],
      ["missed", "2026-11-25T08:59:59+01:00", null, "sched-1"],
      ["skipped", "2026-11-25T09:00:00+01:00", null, "sched-1"],
      ["failed", "2026-11-26T09:00:00+01:00", null, "sched-1"],
    ]);
    expect(decisions[1]).toMatchObject({ atLocal: "2026-11-20T09:00:05+01:00", at: at("2026-11-20T08:00:05Z"), slot: at("2026-11-20T08:00:00Z"), detail: `run ${runId}` });
    expect(decisions[2].detail).toBe(`the previous run ${runId} was unfinished (overlap: skip)`);
    expect(decisions[3]).toMatchObject({ summary: "missed 3 (catch-up: latest)" });
    expect(decisions[3].detail).toBe("3 slots through 2026-11-25T08:59:59+01:00 did not fire (catch-up: latest)");
    expect(decisions[5].detail).toContain("goal.md does not exist");

    const last2 = JSON.parse((await farcaster(["schedule", "log", "morning", "--limit", "2", "--json", "--db", db], { cwd: dir })).stdout);
    expect(last2.decisions.map((d: any) => d.decision)).toEqual(["skipped", "failed"]);
  });

  test("schedule log prints one line per event with its time in the zone; a bad --limit is exit 2 and an unknown schedule exit 1", async () => {
    const { db, runId, dir } = await historyOf();
    const text = await farcaster(["schedule", "log", "morning", "--db", db], { cwd: dir });
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME \(Europe\/Berlin\)\s+DECISION\s+SLOT\s+BY\s+DETAIL$/);
    expect(lines).toHaveLength(7);
    expect(lines[2]).toMatch(new RegExp(`^2026-11-20T09:00:05\\+01:00\\s+fired\\s+2026-11-20T09:00:00\\+01:00\\s+sched-1\\s+run ${runId}$`));
    expect(lines[4]).toContain("3 slots through 2026-11-25T08:59:59+01:00 did not fire (catch-up: latest)");
    expect(text.stdout).not.toContain("\x1b[");

    const badLimit = await farcaster(["schedule", "log", "morning", "--limit", "0", "--db", db], { cwd: dir });
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit must be a whole number from 1 to 10000 (got "0")');
    const unknown = await farcaster(["schedule", "log", "evening", "--db", db], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('schedule "evening" not found');
    const missingName = await farcaster(["schedule", "log", "--db", db], { cwd: dir });
    expect(missingName.code).toBe(2);
    expect(missingName.stderr).toContain("schedule log needs a schedule name");
  });

  test("over HTTP, GET /v1/schedules carries each last decision and /v1/schedules/:name/log the decisions, as the CLI shows them", async () => {
    const { db, runId, dir } = await historyOf();
    const store = openTestStore(db, { readOnly: true });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createApp({ store, registry, cwd: dir }).fetch });
    try {
      const list = (await (await fetch(`${server.url}v1/schedules`)).json()) as { schedules: any[] };
      expect(list.schedules.map((s) => [s.name, s.lastDecision?.decision, s.nextFires.length])).toEqual([["morning", "failed", 3]]);
      const log = await fetch(`${server.url}v1/schedules/morning/log?limit=3`);
      expect(log.status).toBe(200);
      const { schedule, decisions } = (await log.json()) as { schedule: any; decisions: any[] };
      expect(schedule.name).toBe("morning");
      // The last three, oldest first, the same records `schedule log --json` prints.
      const cli = JSON.parse((await farcaster(["schedule", "log", "morning", "--limit", "3", "--json", "--db", db], { cwd: dir })).stdout);
      expect(decisions).toEqual(cli.decisions);
      expect(decisions.map((d) => d.decision).at(-1)).toBe("failed");
      expect(runId).toBeTruthy();
      const all = (await (await fetch(`${server.url}v1/schedules/morning/log`)).json()) as { decisions: any[] };
      expect(all.decisions.find((d) => d.decision === "fired")?.runId).toBe(runId);
      const bad = await fetch(`${server.url}v1/schedules/morning/log?limit=0`);
      expect([bad.status, ((await bad.json()) as any).error.code]).toEqual([400, "bad_request"]);
      const unknown = await fetch(`${server.url}v1/schedules/evening/log`);
      expect([unknown.status, ((await unknown.json()) as any).error.code]).toEqual([404, "schedule_not_found"]);
    } finally {
      await server.stop(true);
    }
  });

  test("schedule list shows the last decision and the next fire in the schedule's timezone, in text and JSON", async () => {
    const { db, dir } = await historyOf();
    const list = await farcaster(["schedule", "list", "--json", "--db", db], { cwd: dir });
    expect(list.code).toBe(0);
    const [shown] = JSON.parse(list.stdout).schedules;
    expect(shown.lastDecision).toMatchObject({ decision: "failed", slotLocal: "2026-11-26T09:00:00+01:00", actor: "sched-1" });
    expect(shown.lastDecision.detail).toContain("goal.md does not exist");
    expect(shown.nextFires).toHaveLength(3);
    // The real clock decides which day; the zone decides the wall time and its offset.
    for (const next of shown.nextFires) expect(next).toMatch(/^\d{4}-\d\d-\d\dT09:00:00\+0[12]:00$/);
    expect(zonedTime(shown.nextFireAt, "Europe/Berlin")).toBe(shown.nextFires[0]);

    const text = await farcaster(["schedule", "list", "--db", db], { cwd: dir });
    const [header, row] = text.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAME\s+CRON\s+TZ\s+NEXT\s+LAST\s+OVERLAP/);
    expect(row).toContain(shown.nextFires[0]);
    expect(row).toContain("2026-11-26T09:00:05+01:00 failed: goal file");
  });

  test("the last decision of a schedule that fired names its run; one that never decided shows none", async () => {
    const clock = new ManualClock(at("2026-11-20T07:59:00Z"));
    const { store, path } = freshStore({ clock });
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    await addSchedule(store, registry, { name: "fresh", cron: "0 9 * * *", timezone: "Europe/Berlin", goalFile: "goal.md", cwd: dir, actor: "t" });
    await addSchedule(store, registry, { name: "fires", cron: "0 9 * * *", timezone: "Europe/Berlin", goalFile: "goal.md", cwd: dir, actor: "t" });
    await store.setScheduleEnabled("fresh", false, "t");
    clock.set(at("2026-11-20T08:00:01Z"));
    await new Scheduler({ store, clock, id: "sched-1", prepareFire: (s) => fireInput(s, registry) }).tick();
    const [run] = await store.listRuns({ source: "schedule:fires" });
    await store.close();
    const { schedules } = JSON.parse((await farcaster(["schedule", "list", "--json", "--db", path], { cwd: dir })).stdout);
    expect(schedules.map((s: any) => [s.name, s.lastDecision?.decision ?? null, s.lastDecision?.runId ?? null])).toEqual([["fires", "fired", run!.id], ["fresh", null, null]]);
    const text = (await farcaster(["schedule", "list", "--db", path], { cwd: dir })).stdout;
    expect(text).toContain(`2026-11-20T09:00:01+01:00 fired ${run!.id}`);
  });
});

describe("a schedule name taken twice", () => {
  test("is 409 conflict over HTTP, on a real loopback server, and the first schedule stays", async () => {
    const { store } = freshStore();
    const cwd = freshDir();
    writeFileSync(join(cwd, "goal.md"), GOAL);
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createApp({ store, registry, cwd }).fetch });
    try {
      const post = (cron: string) =>
        fetch(`${server.url}v1/schedules`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "nightly", cron, goalFile: "goal.md" }) });
      expect((await post("0 3 * * *")).status).toBe(201);
      const second = await post("0 4 * * *");
      expect(second.status).toBe(409);
      expect(await second.json()).toEqual({
        error: { code: "conflict", message: 'a schedule named "nightly" already exists; remove it first (farcaster schedule rm nightly) or pick another name' },
      });
      expect((await store.listSchedules()).map((s) => [s.name, s.cron])).toEqual([["nightly", "0 3 * * *"]]);
    } finally {
      await server.stop(true);
    }
  });

  test("is exit 1 in the CLI with the message that says what to do", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    const db = join(dir, "f.db");
    expect((await farcaster(["schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "goal.md", "--db", db], { cwd: dir })).code).toBe(0);
    const again = await farcaster(["schedule", "add", "--name", "nightly", "--cron", "0 4 * * *", "goal.md", "--db", db], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('a schedule named "nightly" already exists; remove it first (farcaster schedule rm nightly) or pick another name');
    expect(again.stderr).not.toContain("    at ");
  });
});
