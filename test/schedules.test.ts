import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../src/core/clock.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { addSchedule, fireInput, fireNow } from "../src/services/schedules.ts";
import type { SqliteStore } from "../src/store/sqlite/store.ts";
import type { EventRecord } from "../src/store/types.ts";
import { farcaster } from "./cli-helpers.ts";
import { startFakeOpenAI } from "./fixtures/fakeOpenAI.ts";
import { freshDir, freshStore, openTestStore, rejected } from "./helpers.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const at = (iso: string) => Date.parse(iso);
const PLAN = JSON.stringify({ goal: "nightly check", tasks: [{ id: "check", title: "Check", workflow: "noop", input: {} }] });

function planFile(): string {
  const path = join(freshDir(), "plan.json");
  writeFileSync(path, PLAN);
  return path;
}

function scheduler(store: SqliteStore, clock: ManualClock, id = "sched-1") {
  return new Scheduler({ store, clock, id, prepareFire: (s) => fireInput(s, registry) });
}

/** The fires of every schedule, in the order they happened. */
async function firedEvents(store: SqliteStore) {
  return (await store.listEvents({ limit: 10_000 })).filter((e): e is Extract<EventRecord, { type: "schedule.fired" }> => e.type === "schedule.fired");
}

async function runsOf(store: SqliteStore) {
  return (await store.listRuns({ limit: 1000 })).filter((r) => r.source?.startsWith("schedule:"));
}

describe("the scheduler", () => {
  test("fires each slot at its instant in a named timezone, across a DST change", async () => {
    const clock = new ManualClock(at("2026-03-07T12:00:00Z"));
    const { store } = freshStore({ clock });
    await addSchedule(store, registry, { name: "standup", cron: "0 9 * * *", timezone: "America/New_York", planFile: planFile(), overlap: "allow", actor: "t" });
    const s = scheduler(store, clock);
    const fired: string[] = [];
    // 09:00 New York is 14:00Z before the 8 March change and 13:00Z after it.
    for (const instant of ["2026-03-07T13:59:59Z", "2026-03-07T14:00:00Z", "2026-03-08T12:59:59Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:05Z"]) {
      clock.set(at(instant));
      await s.tick();
      fired.push(`${instant}:${(await runsOf(store)).length}`);
    }
    expect(fired).toEqual(["2026-03-07T13:59:59Z:0", "2026-03-07T14:00:00Z:1", "2026-03-08T12:59:59Z:1", "2026-03-08T13:00:00Z:2", "2026-03-09T13:00:05Z:3"]);
    const slots = (await firedEvents(store)).map((e) => new Date(e.data.slot).toISOString());
    expect(slots).toEqual(["2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"]);
  });

  test("three schedulers on one database create exactly one run per slot over many slots", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store, path } = freshStore({ clock });
    const others = [openTestStore(path, { clock }), openTestStore(path, { clock })];
    await addSchedule(store, registry, { name: "minutely", cron: "* * * * *", planFile: planFile(), overlap: "allow", actor: "t" });
    const schedulers = [scheduler(store, clock, "a"), scheduler(others[0]!, clock, "b"), scheduler(others[1]!, clock, "c")];
    for (let minute = 1; minute <= 30; minute++) {
      clock.set(at("2026-01-01T00:00:00Z") + minute * 60_000 + (minute % 7) * 1_000);
      if (minute % 2 === 0) await Promise.all(schedulers.map((s) => s.tick()));
      else for (const s of [...schedulers].reverse()) await s.tick();
    }
    const runs = await runsOf(store);
    expect(runs).toHaveLength(30);
    const fired = await firedEvents(store);
    expect(fired).toHaveLength(30);
    expect(new Set(fired.map((e) => e.data.slot)).size).toBe(30);
    expect(new Set(fired.map((e) => e.runId)).size).toBe(30);
    for (const other of others) other.close();
  });

  describe("catch-up after downtime of five hourly slots", () => {
    for (const [policy, runs, missed] of [["latest", 1, 4], ["all", 5, 0], ["none", 0, 5]] as const) {
      test(`${policy}: ${runs} run(s), ${missed} missed`, async () => {
        const clock = new ManualClock(at("2026-01-01T00:30:00Z"));
        const { store } = freshStore({ clock });
        await addSchedule(store, registry, { name: "hourly", cron: "0 * * * *", planFile: planFile(), overlap: "allow", catchUp: policy, actor: "t" });
        clock.set(at("2026-01-01T05:40:00Z"));
        await scheduler(store, clock).tick();
        await scheduler(store, clock, "second").tick(); // a second look changes nothing
        expect(await runsOf(store)).toHaveLength(runs);
        const missedEvents = (await store.listEvents()).filter((e) => e.type === "schedule.missed");
        if (missed === 0) expect(missedEvents).toEqual([]);
        else expect(missedEvents.map((e) => e.data)).toEqual([{ schedule: "hourly", missed, through: expect.any(Number), policy }]);
        if (policy === "latest") expect((await runsOf(store))[0]!.idempotencyKey).toEndWith(String(at("2026-01-01T05:00:00Z")));
      });
    }
  });

  test("overlap skip: no new run while the previous one is unfinished, and the skip is recorded", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store } = freshStore({ clock });
    await addSchedule(store, registry, { name: "slow", cron: "* * * * *", planFile: planFile(), actor: "t" });
    const s = scheduler(store, clock);
    clock.set(at("2026-01-01T00:01:00Z"));
    await s.tick();
    clock.set(at("2026-01-01T00:02:00Z"));
    await s.tick();
    const runs = await runsOf(store);
    expect(runs).toHaveLength(1);
    const skipped = (await store.listEvents()).filter((e) => e.type === "schedule.skipped");
    expect(skipped.map((e) => e.data)).toEqual([{ schedule: "slow", slot: at("2026-01-01T00:02:00Z"), running: [runs[0]!.id] }]);
    const outcomes = (await store.listEvents()).filter((e) => e.type === "schedule.fired" || e.type === "schedule.skipped").map((e) => e.type);
    expect(outcomes).toEqual(["schedule.fired", "schedule.skipped"]);
  });

  test("overlap cancel-previous: the unfinished run is cancelled and a new one starts", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store } = freshStore({ clock });
    await addSchedule(store, registry, { name: "replace", cron: "* * * * *", planFile: planFile(), overlap: "cancel-previous", actor: "t" });
    const s = scheduler(store, clock);
    clock.set(at("2026-01-01T00:01:00Z"));
    await s.tick();
    clock.set(at("2026-01-01T00:02:00Z"));
    await s.tick();
    const runs = (await runsOf(store)).sort((a, b) => a.createdAt - b.createdAt);
    expect(runs.map((r) => r.state)).toEqual(["cancelled", "planning"]);
  });

  test("a paused schedule does not fire; resuming starts from now rather than catching up", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store } = freshStore({ clock });
    await addSchedule(store, registry, { name: "p", cron: "* * * * *", planFile: planFile(), overlap: "allow", catchUp: "all", actor: "t" });
    await store.setScheduleEnabled("p", false, "t");
    clock.set(at("2026-01-01T00:10:00Z"));
    await scheduler(store, clock).tick();
    expect(await runsOf(store)).toHaveLength(0);
    await store.setScheduleEnabled("p", true, "t");
    clock.set(at("2026-01-01T00:11:00Z"));
    await scheduler(store, clock).tick();
    expect(await runsOf(store)).toHaveLength(1);
  });

  test("a schedule paused after the scheduler read it does not fire: the fire re-checks inside its transaction", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store, path } = freshStore({ clock });
    const other = openTestStore(path, { clock }); // the person pausing it, in another process
    await addSchedule(store, registry, { name: "racy", cron: "* * * * *", planFile: planFile(), overlap: "allow", actor: "t" });
    const results: string[] = [];
    // The pause lands between the scheduler's read of the schedules and its fire.
    const racing = new Scheduler({
      store, clock, id: "sched-1",
      prepareFire: (schedule) => {
        results.push("read");
        void other.setScheduleEnabled("racy", false, "person");
        return fireInput(schedule, registry);
      },
      onFire: (_schedule, _slot, result) => results.push(result.outcome),
    });
    clock.set(at("2026-01-01T00:01:00Z"));
    await racing.tick();
    expect(results).toEqual(["read", "paused"]);
    expect(await runsOf(store)).toHaveLength(0);
    expect((await store.getSchedule("racy")).enabled).toBe(false);
    // `schedule run` is a person asking: it fires a paused schedule all the same.
    const { result } = await fireNow(store, registry, "racy", "person");
    expect(result.outcome).toBe("fired");
  });

  test("a goal file that broke after the schedule was added records a failed fire, not a crash", async () => {
    const clock = new ManualClock(at("2026-01-01T00:00:30Z"));
    const { store } = freshStore({ clock });
    const goal = join(freshDir(), "goal.md");
    writeFileSync(goal, "# g\n\n## a: A\nrun: echo hi\n");
    await addSchedule(store, registry, { name: "brittle", cron: "* * * * *", goalFile: goal, actor: "t" });
    writeFileSync(goal, "# g\n\n## a: A\nafter: nowhere\nrun: echo hi\n");
    clock.set(at("2026-01-01T00:01:00Z"));
    await scheduler(store, clock).tick();
    const failed = (await store.listEvents()).filter((e) => e.type === "schedule.failed");
    expect(failed).toHaveLength(1);
    expect((failed[0]!.data as { error: string }).error).toContain('unknown task "nowhere"');
  });
});

describe("schedule input", () => {
  test("an invalid cron, an unknown timezone, a missing goal file: a clear error and nothing written", async () => {
    const { store } = freshStore();
    const plan = planFile();
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "61 * * * *", planFile: plan, actor: "t" }))).message).toContain('cron expression "61 * * * *" is invalid');
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "0 9 * * *", timezone: "Mars/Olympus", planFile: plan, actor: "t" }))).message).toContain('timezone "Mars/Olympus" is not an IANA timezone');
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "0 9 * * *", goalFile: "/nope/goal.md", actor: "t" }))).message).toContain("goal file /nope/goal.md does not exist");
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "0 9 * * *", overlap: "sometimes", planFile: plan, actor: "t" }))).message).toContain("overlap must be one of skip, allow, cancel-previous");
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "0 9 * * *", actor: "t" }))).message).toContain("a schedule runs exactly one of");
    expect(await store.listSchedules()).toEqual([]);
    await addSchedule(store, registry, { name: "x", cron: "0 9 * * *", planFile: plan, actor: "t" });
    expect((await rejected(addSchedule(store, registry, { name: "x", cron: "0 9 * * *", planFile: plan, actor: "t" }))).message).toContain('a schedule named "x" already exists');
  });

  test("the CLI adds, lists with the next fire time, runs now, pauses and removes", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    const db = join(dir, "f.db");
    const add = await farcaster(["schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--plan", "plan.json", "--db", db], { cwd: dir });
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added schedule nightly: 0 3 \* \* \* \(Europe\/Berlin\), next 20\d\d-/);
    const list = JSON.parse((await farcaster(["schedule", "list", "--json", "--db", db], { cwd: dir })).stdout);
    expect(list.schedules[0]).toMatchObject({ name: "nightly", overlap: "skip", catchUp: "latest", enabled: true, targetKind: "workplan" });
    expect(list.schedules[0].nextFireAt).toBeGreaterThan(Date.now());
    const run = await farcaster(["schedule", "run", "nightly", "--db", db], { cwd: dir });
    expect(run.stdout).toMatch(/fired nightly: run r\w+/);
    expect((await farcaster(["schedule", "pause", "nightly", "--db", db], { cwd: dir })).stdout).toContain("schedule nightly is paused");
    expect((await farcaster(["schedule", "rm", "nightly", "--db", db], { cwd: dir })).code).toBe(0);
    const bad = await farcaster(["schedule", "add", "--name", "bad", "--cron", "* * *", "--plan", "plan.json", "--db", db], { cwd: dir });
    expect(bad.code).toBe(2); // a bad option value, as everywhere else
    expect(bad.stderr).toContain('--cron "* * *" is invalid');
  });

  test("--freeze of a plan a model wrote with shell commands holds the schedule at a gate; only that approval enables it", async () => {
    const model = startFakeOpenAI([{ content: JSON.stringify({ version: 1, goal: "clean up", tasks: [{ id: "sweep", title: "Sweep", workflow: "shell", input: { command: "rm -rf ./tmp-cache" } }] }) }]);
    try {
      const dir = freshDir();
      writeFileSync(join(dir, "goal.md"), "# Clean up\n\nRemove the cache every night.\n");
      const db = join(dir, "f.db");
      const env = { OPENAI_BASE_URL: model.url, FARCASTER_MODEL: "fake-planner" };
      const add = await farcaster(["schedule", "add", "--name", "sweeper", "--cron", "0 3 * * *", "--freeze", "goal.md", "--db", db], { cwd: dir, env });
      expect(add.code).toBe(0);
      expect(add.stdout).toContain("added schedule sweeper paused");
      expect(add.stdout).toContain("$ rm -rf ./tmp-cache"); // the command, in full, before anything runs it
      const gateId = /approve: farcaster approve (g\w+)/.exec(add.stdout)![1]!;
      const list = JSON.parse((await farcaster(["schedule", "list", "--json", "--db", db], { cwd: dir })).stdout);
      expect(list.schedules[0]).toMatchObject({ name: "sweeper", enabled: false, nextFireAt: null });
      expect((await farcaster(["schedule", "list", "--db", db], { cwd: dir })).stdout).toContain("awaiting approval");

      const resume = await farcaster(["schedule", "resume", "sweeper", "--db", db], { cwd: dir });
      expect(resume.code).toBe(1);
      expect(resume.stderr).toContain(`waits for a person at gate ${gateId}`);
      const run = await farcaster(["schedule", "run", "sweeper", "--db", db], { cwd: dir });
      expect(run.code).toBe(1); // not even by hand
      expect(run.stderr).toContain(`farcaster approve ${gateId}`);

      const gates = JSON.parse((await farcaster(["gates", "--json", "--db", db], { cwd: dir })).stdout).gates;
      expect(gates).toMatchObject([{ id: gateId, runId: null, scheduleName: "sweeper", state: "pending" }]);
      expect((await farcaster(["approve", gateId, "--db", db, "--by", "ops"], { cwd: dir })).code).toBe(0);
      const approved = JSON.parse((await farcaster(["schedule", "list", "--json", "--db", db], { cwd: dir })).stdout).schedules[0];
      expect(approved).toMatchObject({ enabled: true });
      expect(approved.approvedHash).toBe(approved.approvalHash);
      const fired = await farcaster(["schedule", "run", "sweeper", "--db", db], { cwd: dir });
      expect(fired.stdout).toMatch(/fired sweeper: run r\w+/);
      expect(model.requests).toHaveLength(1); // planned once, when frozen
    } finally {
      await model.stop();
    }
  });

  test("--freeze of a plan the goal file itself carries needs no approval", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# Tidy\n\n## sweep: Sweep\nrun: true\n");
    const db = join(dir, "f.db");
    const add = await farcaster(["schedule", "add", "--name", "tidy", "--cron", "0 3 * * *", "--freeze", "goal.md", "--db", db], { cwd: dir });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("added schedule tidy: 0 3 * * *");
  });
});
