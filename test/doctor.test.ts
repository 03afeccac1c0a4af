/**
 * `farcaster doctor` through the real CLI, each kind of ownerless task built
 * for real: a run with no worker, a worker killed with SIGKILL holding a
 * lease, a gate left past its timeout, a schedule with no scheduler, an agent
 * task without a model. And `farcaster serve` without drones says so.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../src/core/clock.ts";
import type { WorkplanInput } from "../src/core/workplan.ts";
import type { DoctorReport } from "../src/view/doctor.ts";
import { ENTRY, farcaster, spawnFarcaster, withReader } from "./cli-helpers.ts";
import { freshDir, openTestStore, until } from "./helpers.ts";

/** No model in the environment of the commands, whatever the developer's shell has. */
const NO_MODEL = { OPENAI_API_KEY: "", OPENAI_BASE_URL: "" };

async function createRun(db: string, plan: WorkplanInput, clock?: ManualClock): Promise<string> {
  const store = openTestStore(db, clock ? { clock } : {});
  try {
    return (await store.createRun(plan)).id;
  } finally {
    await store.close();
  }
}

async function doctor(db: string, args: string[] = [], env: Record<string, string> = NO_MODEL): Promise<{ code: number; report: DoctorReport; stderr: string }> {
  const result = await farcaster(["doctor", "--json", ...args], { db, env });
  return { code: result.code, report: JSON.parse(result.stdout) as DoctorReport, stderr: result.stderr };
}

const shell = (id: string, command: string, after: string[] = []) => ({ id, title: `task ${id}`, workflow: "shell", input: { command }, after });

describe("farcaster doctor", () => {
  test("a run with no worker: its ready tasks have no owner (exit 1, with the fix); once a worker ran it, healthy (exit 0)", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, { goal: "two steps", tasks: [shell("first", "true"), shell("second", "true", ["first"])] }, new ManualClock(Date.now() - 60_000));
    const sick = await doctor(db);
    expect(sick.code).toBe(1);
    expect(sick.report.healthy).toBe(false);
    expect(sick.report.findings.map((f) => [f.kind, f.runId, f.subjects, f.blocked])).toEqual([["no_drone", runId, ["first"], 1]]);
    expect(sick.report.findings[0]!.fix).toStartWith("farcaster worker");
    const text = await farcaster(["doctor"], { db, env: NO_MODEL });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`✗ no_drone  run ${runId}: 1 task (first) ready since 1m`);
    expect(text.stdout).toContain("fix: farcaster worker");
    expect(text.stdout).toContain("database   sqlite");
    expect(text.stdout).not.toContain("\u001b[");

    const worker = spawnFarcaster(["worker", "--db", db], { cwd: dir });
    await until(async () => (await withReader(db, (store) => store.getRun(runId))).state === "succeeded", 20_000, "the run to succeed");
    worker.proc.kill("SIGTERM");
    await worker.proc.exited;
    const well = await doctor(db);
    expect(well.report.findings).toEqual([]);
    expect([well.code, well.report.healthy, well.report.openTasks]).toEqual([0, true, 0]);
    expect((await farcaster(["doctor"], { db, env: NO_MODEL })).stdout).toContain("healthy: every open task has an owner");
  }, 30_000);

  test("a worker killed with SIGKILL leaves an expired lease no drone reclaims; workers says it is gone, status shows the drone and the lease", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, { goal: "slow", tasks: [shell("slow", "sleep 60"), shell("after", "true", ["slow"])] });
    const real = Bun.spawn([process.execPath, ENTRY, "worker", "--db", db, "--lease", "1s"], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const task = () => withReader(db, (store) => store.findTask(runId, "slow"));
    await until(async () => (await task()).state === "running", 20_000, "the task to run");
    real.kill("SIGKILL");
    await real.exited;
    const held = await task();
    const drone = held.leaseOwner!;
    expect(drone).toStartWith(`${hostname()}:${real.pid}:`);
    await until(async () => Date.now() > held.leaseExpiresAt! + 300, 5_000, "the lease to expire");

    const workers = JSON.parse((await farcaster(["workers", "--json"], { db })).stdout);
    expect(workers.drones.map((d: { id: string; liveness: string; processRunning: boolean; held: number }) => [d.id, d.liveness, d.processRunning, d.held])).toEqual([[drone, "gone", false, 1]]);
    expect(workers.drones[0].leases[0]).toMatchObject({ runId, key: "slow", warning: "expired" });
    expect(workers.drones[0].workflows).toEqual(["shell"]);
    const workersText = (await farcaster(["workers"], { db })).stdout;
    expect(workersText).toMatch(new RegExp(`${drone}\\s+\\S+\\s+${real.pid}\\s+gone\\s+1`));
    expect(workersText).toContain(`${runId}/slow  lease expired`);

    const status = (await farcaster(["status", runId], { db })).stdout;
    expect(status).toMatch(new RegExp(`slow\\s+running.*${drone}, lease expired`));

    const { code, report } = await doctor(db, ["--grace", "100ms"]);
    expect(code).toBe(1);
    expect(report.findings.map((f) => [f.kind, f.subjects, f.blocked])).toEqual([["lease_expired", ["slow"], 1]]);
    expect(report.findings[0]!.message).toContain(`held by drone ${drone}`);
    expect(report.drones).toBe(0); // the one seen is gone: it owns nothing
  }, 30_000);

  test("a worker killed with SIGKILL while its lease has a minute left: doctor knows its process is gone and reports the lease at once, not a minute later", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, { goal: "slow", tasks: [shell("slow", "sleep 60")] });
    const real = Bun.spawn([process.execPath, ENTRY, "worker", "--db", db, "--lease", "1m"], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    await until(async () => (await withReader(db, (store) => store.findTask(runId, "slow"))).state === "running", 20_000, "the task to run");
    real.kill("SIGKILL");
    await real.exited;
    const { code, report } = await doctor(db);
    expect(code).toBe(1);
    expect(report.findings.map((f) => [f.kind, f.subjects])).toEqual([["drone_lost", ["slow"]]]);
    expect(report.findings[0]!.message).toContain("whose process is not running");
    const one = await doctor(db, [runId]);
    expect(one.report.tasks.map((t) => [t.key, t.owner])).toEqual([["slow", null]]);
    expect(one.report.tasks[0]!.detail).toMatch(/^drone .* is gone, lease \d+s left$/);
  }, 30_000);

  test("a gate left past its timeout with no drone to expire it, and an escalated gate gone overdue, are reported with their fixes", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const review = (id: string, onTimeout: "fail" | "escalate") => ({ id, title: id, workflow: "review", input: { question: `Ship ${id}?`, timeout: "1s", onTimeout } });
    const runId = await createRun(db, { goal: "gated", tasks: [review("strict", "fail"), review("lenient", "escalate")] });
    const worker = spawnFarcaster(["worker", "--db", db], { cwd: dir });
    const gates = () => withReader(db, (store) => store.listGates({ runId, pendingOnly: true }));
    // The drone opens both gates, and marks the escalating one overdue once its second passed (the other fails its task).
    await until(async () => (await gates()).some((g) => g.overdueAt !== null), 20_000, "the escalating gate to be overdue");
    worker.proc.kill("SIGTERM");
    await worker.proc.exited;
    const overdue = (await gates()).find((g) => g.overdueAt !== null)!;
    const { code, report } = await doctor(db);
    expect(code).toBe(1);
    expect(report.findings.map((f) => [f.kind, f.subjects])).toEqual([["gate_overdue", ["lenient"]]]);
    expect(report.findings[0]!.fix).toBe(`farcaster approve ${overdue.id}   or   farcaster reject ${overdue.id} --reason "…"`);

    // A gate whose timeout passed while no drone was running: still pending, nobody swept it.
    const later = await createRun(db, { goal: "gated later", tasks: [review("alone", "fail")] });
    const again = spawnFarcaster(["worker", "--db", db], { cwd: dir });
    await until(async () => (await withReader(db, (store) => store.listGates({ runId: later, pendingOnly: true }))).length === 1, 20_000, "the gate to open");
    again.proc.kill("SIGKILL"); // gone before the timeout: no drone will expire the gate
    await again.proc.exited;
    const [pending] = await withReader(db, (store) => store.listGates({ runId: later, pendingOnly: true }));
    await until(async () => Date.now() > pending!.timeoutAt! + 300, 5_000, "the gate's timeout to pass");
    const unswept = await doctor(db, [later, "--grace", "100ms"]);
    expect(unswept.code).toBe(1);
    expect(unswept.report.findings.map((f) => [f.kind, f.subjects])).toEqual([["gate_timeout_unhandled", ["alone"]]]);
    expect(unswept.report.findings[0]!.message).toContain(`gate ${pending!.id} ("Ship alone?") passed its timeout`);
    const text = await farcaster(["doctor", later, "--grace", "100ms"], { db, env: NO_MODEL });
    expect(text.stdout).toMatch(/alone\s+waiting\s+NONE\s+gate .* passed its timeout/);
  }, 40_000);

  test("a schedule whose slot passed with no scheduler running is reported (and the lack of drones warned about)", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    // Added ten minutes ago, every five minutes: a slot came and went with nobody to fire it.
    const store = openTestStore(db, { clock: new ManualClock(Date.now() - 10 * 60_000) });
    await store.createSchedule({ name: "digest", cron: "*/5 * * * *", timezone: "UTC", targetKind: "goal_text", target: "# digest", overlap: "skip", catchUp: "latest" }, "test");
    await store.close();
    const { code, report } = await doctor(db);
    expect(code).toBe(1);
    expect(report.findings.map((f) => [f.kind, f.severity, f.subjects])).toEqual([
      ["no_scheduler", "ownerless", ["digest"]],
      ["schedules_without_drones", "warning", ["digest"]],
    ]);
    expect(report.findings[0]!.fix).toStartWith("farcaster serve --workers N");
  });

  test("an agent task without a model configured is reported; with a model configured it is not", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, { goal: "fix", tasks: [{ id: "fix", title: "fix it", workflow: "agent", input: { instructions: "fix the typo" } }, shell("check", "true")] });
    // --grace 1h: the tasks are fresh and ready; only the model is in question here.
    const without = await doctor(db, ["--grace", "1h"]);
    expect(without.code).toBe(1);
    expect(without.report.findings.map((f) => [f.kind, f.runId, f.subjects])).toEqual([["no_model", runId, ["fix"]]]);
    expect(without.report.findings[0]!.message).toContain("OPENAI_API_KEY and OPENAI_BASE_URL are unset");
    const withModel = await doctor(db, ["--grace", "1h"], { OPENAI_API_KEY: "", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" });
    expect([withModel.code, withModel.report.findings]).toEqual([0, []]);
  });

  test("no database is exit 1 naming the file looked for, as for every reader; a bad option is exit 2; an unknown run is exit 1", async () => {
    const dir = freshDir();
    const db = join(dir, "none.db");
    const none = await farcaster(["doctor"], { db });
    expect([none.code, none.stderr]).toEqual([1, expect.stringContaining(db)]);
    expect(existsSync(db)).toBe(false);
    expect((await farcaster(["doctor", "--grace", "soon"], { db })).code).toBe(2);
    await createRun(db, { goal: "x", tasks: [shell("a", "true")] });
    // No grace at all is a legitimate check, not a usage error (a task ready a moment ago with no drone is a finding); other durations still must be positive.
    const noGrace = await doctor(db, ["--grace", "0s"]);
    expect([noGrace.code, noGrace.report.findings.map((f) => f.kind)]).toEqual([1, ["no_drone"]]);
    const zeroSince = await farcaster(["doctor", "--since", "0s"], { db });
    expect([zeroSince.code, zeroSince.stderr]).toEqual([2, expect.stringContaining("--since must be a duration")]);
    const missing = await farcaster(["doctor", "r_missing"], { db });
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('run "r_missing" not found')]);
  });
});

describe("farcaster serve never silently idles", () => {
  async function serveStderr(dir: string, args: string[]): Promise<string> {
    const proc = Bun.spawn([process.execPath, ENTRY, "serve", "--port", "0", "--db", join(dir, "f.db"), ...args], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const reader = proc.stdout.getReader();
    let seen = "";
    while (!seen.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    // The warning is written with the listening line; stop the server and read all of stderr.
    proc.kill("SIGTERM");
    reader.releaseLock();
    const [stderr] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    return stderr;
  }

  test("with a schedule and --workers 0 it warns once at start how to start drones; with drones, or with nothing to run, it does not", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# nightly\n\n## a: A\nrun: true\n");
    expect(await serveStderr(dir, [])).toBe("");
    expect((await farcaster(["schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "goal.md"], { cwd: dir, db: join(dir, "f.db") })).code).toBe(0);
    const warned = await serveStderr(dir, []);
    expect(warned.trim().split("\n")).toHaveLength(1);
    expect(warned).toContain("no drones in this process (--workers 0) and 1 enabled schedule(s)");
    expect(warned).toContain("farcaster serve --workers 4");
    expect(await serveStderr(dir, ["--workers", "1"])).toBe("");
  }, 30_000);
});
