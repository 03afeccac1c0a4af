/**
 * Goal files are read safely: regular files only (symlinks resolved), at most
 * LIMITS.goalFileBytes, asynchronously; over HTTP only under the server's goal
 * roots. FIFOs, devices, directories, /proc/self/mem (EIO), unreadable files
 * (EACCES) and missing ones are clear errors, and the server never blocks.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { open, realpath } from "node:fs/promises";
import { join } from "node:path";
import { refuseUnlessOpenedUnder } from "../src/architect/safeRead.ts";
import type { FarcasterError } from "../src/core/errors.ts";
import { createApp } from "../src/api/app.ts";
import { ManualClock } from "../src/core/clock.ts";
import { LIMITS } from "../src/core/limits.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { addSchedule, fireInput, fireNow } from "../src/services/schedules.ts";
import { ENTRY, farcaster, runsOf } from "./cli-helpers.ts";
import { startServe, type ServeProcess } from "./fixtures/serve.ts";
import { freshDir, freshStore, rejected, until } from "./helpers.ts";

const GOAL = "# Ship it\n\n## build: Build\nrun: echo built\n";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const servers: ServeProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

function mkfifo(path: string): string {
  const made = Bun.spawnSync(["mkfifo", path]);
  if (made.exitCode !== 0) throw new Error(`mkfifo ${path} failed: ${made.stderr.toString()}`);
  return path;
}

/** An app on a real store; `goalRoots` (given the app's working directory) replaces the default root. */
function setup(goalRoots?: (cwd: string) => string[]) {
  const { store } = freshStore();
  const cwd = freshDir();
  const app = createApp({ store, registry, cwd, ...(goalRoots ? { goalRoots: goalRoots(cwd) } : {}) });
  const post = async (path: string, body: unknown) => {
    const response = await app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as any };
  };
  return { store, cwd, post };
}

describe("goal files over HTTP", () => {
  test("a FIFO as goalFile is a 400 at once, for runs and schedules, and /healthz answers all along", async () => {
    const server = await startServe();
    servers.push(server);
    mkfifo(join(server.dir, "pipe.md"));
    const post = (path: string, body: unknown) => fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
    const [run, health] = await Promise.all([post("/v1/runs", { goalFile: "pipe.md" }), fetch(server.url + "/healthz", { signal: AbortSignal.timeout(5_000) })]);
    expect(health.status).toBe(200);
    expect(run.status).toBe(400);
    const body = (await run.json()) as any;
    expect(body.error.code).toBe("goal_file_unreadable");
    expect(body.error.message).toContain("is a FIFO (named pipe), not a regular file");
    const schedule = await post("/v1/schedules", { name: "piped", cron: "0 9 * * *", goalFile: "pipe.md" });
    expect(schedule.status).toBe(400);
    expect(((await schedule.json()) as any).error.code).toBe("goal_file_unreadable");
    expect((await fetch(server.url + "/healthz")).status).toBe(200);
    expect(await runsOf(server.db)).toHaveLength(0);
    expect(server.log()).not.toContain("unexpected error");
  });

  test("a goalFile outside the goal roots is 403 naming the rule, also through a symlink or `..`; files under them are read", async () => {
    const s = setup();
    writeFileSync(join(s.cwd, "goal.md"), GOAL);
    symlinkSync("/etc/hostname", join(s.cwd, "escape.md"));
    for (const goalFile of ["/etc/passwd", "../outside.md", "escape.md"]) {
      const { status, body } = await s.post("/v1/runs", { goalFile });
      expect(status).toBe(403);
      expect(body.error.code).toBe("goal_file_outside_roots");
      expect(body.error.message).toContain("is outside the server's goal roots");
      expect(body.error.message).toContain("farcaster serve --goal-root DIR");
    }
    const schedule = await s.post("/v1/schedules", { name: "nightly", cron: "0 3 * * *", workplanFile: "/etc/passwd" });
    expect(schedule.status).toBe(403);
    expect(await s.store.listRuns()).toHaveLength(0);
    expect((await s.post("/v1/runs", { goalFile: "goal.md" })).status).toBe(201);
  });

  test("goalRoots replace the default: a file under another root is read, one in the working directory is not", async () => {
    const other = freshDir();
    writeFileSync(join(other, "goal.md"), GOAL);
    const s = setup(() => [other]);
    writeFileSync(join(s.cwd, "here.md"), GOAL);
    expect((await s.post("/v1/runs", { goalFile: join(other, "goal.md") })).status).toBe(201);
    expect((await s.post("/v1/runs", { goalFile: "here.md" })).status).toBe(403);
  });

  test("a device, /proc/self/mem (EIO), a directory, a missing file and one over the size limit are clear 4xx errors", async () => {
    const app = setup((cwd) => [cwd, "/dev", "/proc/self"]);
    mkdirSync(join(app.cwd, "notes"));
    writeFileSync(join(app.cwd, "big.md"), `# big\n\n${"x".repeat(LIMITS.goalFileBytes)}`);
    const cases: [string, number, string, string][] = [
      ["/dev/zero", 400, "goal_file_unreadable", "is a character device, not a regular file"],
      ["/proc/self/mem", 400, "goal_file_unreadable", "cannot be read: input/output error (EIO)"],
      ["notes", 400, "bad_input", "is a directory"],
      ["missing.md", 400, "bad_input", "does not exist"],
      ["big.md", 413, "too_large", "over the limit of 1 MB"],
    ];
    for (const [goalFile, status, code, message] of cases) {
      const response = await app.post("/v1/runs", { goalFile });
      expect({ goalFile, status: response.status, code: response.body.error.code }).toEqual({ goalFile, status, code });
      expect(response.body.error.message).toContain(message);
    }
    expect(await app.store.listRuns()).toHaveLength(0);
  });
});

describe("what a path is, before it is opened", () => {
  test("a Unix socket is refused as a socket: its kind is asked before the path is opened (opening one would fail ENXIO)", async () => {
    const s = setup();
    const listener = Bun.listen({ unix: join(s.cwd, "sock.md"), socket: { data() {} } });
    try {
      const { status, body } = await s.post("/v1/runs", { goalFile: "sock.md" });
      expect(status).toBe(400);
      expect(body.error.code).toBe("goal_file_unreadable");
      expect(body.error.message).toContain("sock.md is a socket, not a regular file");
      const cli = await farcaster(["plan", "sock.md"], { cwd: s.cwd });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain("goal file sock.md is a socket, not a regular file");
    } finally {
      listener.stop(true);
    }
  });

  test("under roots, a descriptor that was opened outside them is refused (a directory swapped between realpath and open)", async () => {
    const root = await realpath(freshDir());
    const outside = await realpath(freshDir());
    writeFileSync(join(root, "goal.md"), GOAL);
    writeFileSync(join(outside, "goal.md"), GOAL);
    const inside = await open(join(root, "goal.md"), "r");
    const elsewhere = await open(join(outside, "goal.md"), "r");
    try {
      await refuseUnlessOpenedUnder(inside, [root], "goal.md", [root]);
      const error = (await rejected(refuseUnlessOpenedUnder(elsewhere, [root], "goal.md", [root]))) as FarcasterError;
      expect(error.code).toBe("goal_file_outside_roots");
      expect(error.message).toContain(`goalFile goal.md is outside the server's goal roots (${root})`);
    } finally {
      await inside.close();
      await elsewhere.close();
    }
  });
});

describe("serve --goal-root", () => {
  test("allows the directories it names and no other; a root that is not a directory is a usage error", async () => {
    const root = freshDir();
    writeFileSync(join(root, "goal.md"), GOAL);
    const server = await startServe(["--goal-root", root]);
    servers.push(server);
    writeFileSync(join(server.dir, "here.md"), GOAL);
    const post = (goalFile: string) => fetch(server.url + "/v1/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ goalFile }) });
    expect((await post(join(root, "goal.md"))).status).toBe(201);
    expect((await post("here.md")).status).toBe(403);
    const bad = await farcaster(["serve", "--port", "0", "--goal-root", "no/such/dir", "--db", join(freshDir(), "f.db")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--goal-root no/such/dir is not a directory");
  });
});

describe("schedules fired under goal roots", () => {
  test("a fire reads its goal file under the roots again: a symlink retargeted outside them since the schedule was added is a failed fire", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:30Z"));
    const { store } = freshStore({ clock });
    const root = freshDir();
    const outside = freshDir();
    writeFileSync(join(root, "goal.md"), GOAL);
    writeFileSync(join(outside, "secret.md"), "# Secret\n\n## leak: Leak\nrun: echo secret\n");
    symlinkSync(join(root, "goal.md"), join(root, "link.md"));
    await addSchedule(store, registry, { name: "nightly", cron: "* * * * *", overlap: "allow", goalFile: "link.md", cwd: root, actor: "t", roots: [root] });
    const scheduler = new Scheduler({ store, clock, prepareFire: (schedule) => fireInput(schedule, registry, { roots: [root] }) });
    clock.set(Date.parse("2026-01-01T00:01:00Z"));
    await scheduler.tick();
    expect((await store.listRuns()).map((run) => run.goal)).toEqual(["Ship it"]);

    unlinkSync(join(root, "link.md"));
    symlinkSync(join(outside, "secret.md"), join(root, "link.md"));
    clock.set(Date.parse("2026-01-01T00:02:00Z"));
    await scheduler.tick();
    const failed = (await store.listEvents()).filter((event) => event.type === "schedule.failed");
    expect(failed).toHaveLength(1);
    const error = (failed[0]!.data as { error: string }).error;
    expect(error).toContain(`goal file ${join(root, "link.md")} is outside this server's goal roots (${root}) once symlinks are resolved`);
    expect(error).toContain("farcaster serve --goal-root DIR");
    expect((await store.listRuns()).map((run) => run.goal)).toEqual(["Ship it"]);

    // `farcaster schedule run` (no roots) reads the file as the local user does.
    expect((await fireNow(store, registry, "nightly", "person")).result.outcome).toBe("fired");
    expect((await store.listRuns()).map((run) => run.goal).sort()).toEqual(["Secret", "Ship it"]);
  });

  test("`serve` fires under its goal roots whoever added the schedule; `schedule run` from the CLI reads as the local user", async () => {
    const server = await startServe();
    servers.push(server);
    const outside = freshDir();
    writeFileSync(join(server.dir, "goal.md"), GOAL);
    writeFileSync(join(outside, "secret.md"), "# Secret\n\n## leak: Leak\nrun: echo secret\n");
    symlinkSync(join(server.dir, "goal.md"), join(server.dir, "link.md"));
    const added = await fetch(server.url + "/v1/schedules", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "every-second", cron: "* * * * * *", overlap: "allow", goalFile: "link.md" }),
    });
    expect(added.status).toBe(201);
    const decisions = async () => ((await (await fetch(`${server.url}/v1/schedules/every-second/log?limit=1000`)).json()) as any).decisions as { decision: string; detail: string }[];
    await until(async () => (await decisions()).some((d) => d.decision === "fired"), 20_000, "a fire of the goal under the root");

    unlinkSync(join(server.dir, "link.md"));
    symlinkSync(join(outside, "secret.md"), join(server.dir, "link.md"));
    await until(async () => (await decisions()).some((d) => d.decision === "failed"), 20_000, "a failed fire once the link points outside");
    const failure = (await decisions()).find((d) => d.decision === "failed")!;
    expect(failure.detail).toContain("is outside this server's goal roots");
    // What the server started never read the file outside its roots.
    const goals = async () => (((await (await fetch(`${server.url}/v1/runs?limit=500`)).json()) as any).runs as { goal: string }[]).map((run) => run.goal);
    expect(await goals()).toContain("Ship it");
    expect(await goals()).not.toContain("Secret");

    // Paused, so no cron slot collides with the fires by hand. The API's "fire now" checks the roots too.
    expect((await fetch(`${server.url}/v1/schedules/every-second/pause`, { method: "POST" })).status).toBe(200);
    const viaApi = await fetch(`${server.url}/v1/schedules/every-second/run`, { method: "POST" });
    expect(viaApi.status).toBe(200);
    const apiResult = (await viaApi.json()) as any;
    expect(apiResult.outcome).toBe("failed");
    expect(apiResult.detail).toContain("is outside this server's goal roots");
    expect(await goals()).not.toContain("Secret");
    const byHand = await farcaster(["schedule", "run", "every-second", "--json", "--db", server.db], { cwd: server.dir });
    expect(byHand.code).toBe(0);
    expect(JSON.parse(byHand.stdout).outcome).toBe("fired");
    expect(await goals()).toContain("Secret");
    expect(server.log()).not.toContain("unexpected error");
  });
});

/** Runs the CLI as the unprivileged user `nobody` when the tests run as root (root reads any file, so EACCES needs another user). */
async function asUnprivileged(args: string[], cwd: string) {
  const command = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ENTRY, ...args] : [process.execPath, ENTRY, ...args];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), HOME: cwd };
  delete env.FARCASTER_DB;
  const proc = Bun.spawn(command, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("goal files through the CLI", () => {
  test("`plan` of a FIFO, a device, /proc/self/mem or a file over the limit exits 1 with one line, no stack trace, no hang", async () => {
    const dir = freshDir();
    mkfifo(join(dir, "pipe.md"));
    writeFileSync(join(dir, "big.md"), "x".repeat(LIMITS.goalFileBytes + 1));
    const cases: [string, string][] = [
      ["pipe.md", "goal file pipe.md is a FIFO (named pipe), not a regular file"],
      ["/dev/zero", "goal file /dev/zero is a character device, not a regular file"],
      ["/proc/self/mem", "goal file /proc/self/mem cannot be read: input/output error (EIO)"],
      ["big.md", "goal file big.md: 1 MB, over the limit of 1 MB"],
    ];
    const results = await Promise.all(cases.map(([file]) => farcaster(["plan", file], { cwd: dir })));
    results.forEach(({ code, stdout, stderr }, i) => {
      const [file, message] = cases[i]!;
      expect({ file, code }).toEqual({ file, code: 1 });
      expect(stderr).toContain(message);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr + stdout).not.toMatch(/unexpected error|    at /);
    });
  });

  test("the main job on a FIFO exits 1 at once and creates no run", async () => {
    const dir = freshDir();
    mkfifo(join(dir, "pipe.md"));
    const { code, stderr } = await farcaster(["pipe.md", "--db", join(dir, "f.db")], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain("is a FIFO (named pipe), not a regular file");
    expect(existsSync(join(dir, "f.db"))).toBe(false); // refused before the database is opened
  });

  test("a goal file that cannot be read for permissions exits 1 naming EACCES", async () => {
    const dir = freshDir();
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "secret.md"), GOAL);
    chmodSync(join(dir, "secret.md"), 0o000);
    const { code, stderr, stdout } = await asUnprivileged(["plan", "secret.md"], dir);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe("farcaster: goal file secret.md cannot be read: permission denied (EACCES) [goal_file_unreadable]");
    expect(stdout).toBe("");
  });
});
