/**
 * The main job end to end: `farcaster GOAL.md` as a subprocess without a
 * terminal, gates approved from another process, the Architect's model
 * faked at its HTTP boundary.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { farcaster, pendingGates, REPO, runsOf, spawnFarcaster, until, withReader } from "./cli-helpers.ts";
import { startFakeOpenAI, type FakeOpenAI } from "./fixtures/fakeOpenAI.ts";
import { freshDir } from "./helpers.ts";

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

function siteWorkspace(): { dir: string; db: string } {
  const dir = freshDir();
  cpSync(join(REPO, "examples", "site"), join(dir, "examples", "site"), { recursive: true });
  return { dir, db: join(dir, ".farcaster", "farcaster.db") };
}

describe("the main job", () => {
  test("the example goal runs end to end: parallel branches, a fan-in, a gate approved from another process", async () => {
    const { dir, db } = siteWorkspace();
    const job = spawnFarcaster(["examples/site/goal.md", "--workers", "3"], { cwd: dir });
    await until(() => job.seen.includes("waiting for a person"), 30_000, "the review gate to be announced");
    const [gate] = await pendingGates(db);
    expect(gate).toMatchObject({ taskKey: "review", question: "The site built and passed its checks. Publish it?" });
    const approve = await farcaster(["approve", gate!.id, "--by", "reviewer"], { cwd: dir });
    expect(approve.code).toBe(0);
    expect(await job.proc.exited).toBe(0);
    const out = await job.stdout;
    expect(out).toContain("6 tasks in 4 waves");
    expect(out).toContain(`waiting for a person at gate ${gate!.id}`);
    expect(out).toContain(`farcaster approve ${gate!.id}`);
    expect(out).toMatch(/run r\w+ succeeded in/);
    expect(out).not.toContain("\x1b[");
    const manifest = JSON.parse(readFileSync(join(dir, ".farcaster", "example-site", "published", "manifest.json"), "utf8"));
    expect(Object.keys(manifest).sort()).toEqual(["gates.html", "index.html", "leases.html", "replay.html"]);
    // links and pages-ok ran after both builders; the gate after both checks.
    const tasks = await withReader(db, async (store) => store.listTasks((await store.listRuns())[0]!.id));
    const at = Object.fromEntries(tasks.map((t) => [t.key, { started: t.startedAt!, finished: t.finishedAt! }]));
    expect(at.links!.started).toBeGreaterThanOrEqual(Math.max(at.pages!.finished, at.index!.finished));
    expect(at.review!.started).toBeGreaterThanOrEqual(Math.max(at.links!.finished, at["pages-ok"]!.finished));
  });

  test("a failing task makes the run fail: its dependents are skipped, the summary names the error, exit 1", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# Fail on purpose\n\n## ok: Fine\nrun: echo fine\n\n## broken: Broken\nrun: echo 'disk full' >&2; exit 3\n\n## after: After\nafter: broken\nrun: echo never\n");
    const result = await farcaster(["goal.md", "--json"], { cwd: dir });
    expect(result.code).toBe(1);
    // One JSON object per line as things happen; the last is the summary.
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; task?: string });
    expect(lines[0]!.type).toBe("run");
    expect(lines.filter((line) => line.type === "task.failed").map((line) => line.task)).toEqual(["broken"]);
    const summary = lines.at(-1) as unknown as { type: string; run: { state: string }; tasks: { key: string; state: string; error: { message: string } }[] };
    expect(summary.type).toBe("summary");
    expect(summary.run.state).toBe("failed");
    const states = Object.fromEntries(summary.tasks.map((t: { key: string; state: string }) => [t.key, t.state]));
    expect(states).toEqual({ "@plan": "succeeded", ok: "succeeded", broken: "failed", after: "skipped" });
    const broken = summary.tasks.find((t: { key: string }) => t.key === "broken");
    expect(broken!.error.message).toBe("`echo 'disk full' >&2; exit 3` exited with code 3: disk full");
  });

  test("Ctrl-C leaves the run resumable; running the goal again resumes it instead of starting a duplicate", async () => {
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    writeFileSync(join(dir, "goal.md"), "# Two steps\n\n## first: First\nrun: echo one > first.txt\n\n## check: A person checks\nafter: first\ngate: Is first.txt right?\n\n## second: Second\nafter: check\nrun: echo two > second.txt\n");
    const job = spawnFarcaster(["goal.md"], { cwd: dir });
    await until(async () => (await pendingGates(db)).length > 0, 20_000, "the gate").catch(async (error) => {
      job.proc.kill("SIGKILL");
      throw new Error(`${(error as Error).message}; the job printed:\n${job.seen}\n${await job.stderr}`);
    });
    job.proc.kill("SIGINT");
    expect(await job.proc.exited).toBe(130);
    const runId = (await runsOf(db))[0]!.id;
    expect(await job.stdout).toContain(`run ${runId} paused; its leases were released. Continue with: farcaster resume ${runId}`);

    const [gate] = await pendingGates(db); // still pending: a gate outlives the process that opened it
    const again = spawnFarcaster(["goal.md"], { cwd: dir });
    await farcaster(["approve", gate!.id], { cwd: dir });
    expect(await again.proc.exited).toBe(0);
    expect(await again.stdout).toContain(`goal.md already has an unfinished run, ${runId} (running); resuming it (--new starts another)`);
    expect(await runsOf(db)).toHaveLength(1);
    expect(readFileSync(join(dir, "second.txt"), "utf8")).toBe("two\n");
    expect((await withReader(db, (store) => store.findTask(runId, "first"))).attempts).toBe(1); // not redone
  });

  test("running a goal file that changed since its unfinished run was planned stops with exit 2 and names both ways on", async () => {
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    writeFileSync(join(dir, "goal.md"), "# Gated\n\n## check: A person checks\ngate: Go on?\n");
    const created = await farcaster(["run", "goal.md", "--detach"], { cwd: dir });
    expect(created.code).toBe(0);
    const runId = (await runsOf(db))[0]!.id;
    writeFileSync(join(dir, "goal.md"), "# Gated\n\n## check: A person checks\ngate: Go on?\n\n## more: A task added since\nafter: check\nrun: true\n");
    const changed = await farcaster(["goal.md"], { cwd: dir });
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain(`goal.md changed since its unfinished run ${runId} was planned from it`);
    expect(changed.stderr).toContain(`farcaster resume ${runId}`);
    expect(changed.stderr).toContain("farcaster goal.md --new");
    expect(await runsOf(db)).toHaveLength(1); // nothing started
    const fresh = await farcaster(["run", "goal.md", "--new", "--detach"], { cwd: dir });
    expect(fresh.code).toBe(0);
    expect(await runsOf(db)).toHaveLength(2);
  });

  test("without a plan, the Architect plans with the model; --yes approves a plan that runs nothing a model wrote, recorded as such", async () => {
    const plan = {
      version: 1,
      goal: "Count and check",
      tasks: [
        { id: "count", title: "Count", workflow: "noop", input: {} },
        { id: "check", title: "A person checks", workflow: "review", input: { question: "Counted right?" }, after: ["count"] },
      ],
    };
    fake = startFakeOpenAI([{ content: JSON.stringify(plan) }]);
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    writeFileSync(join(dir, "goal.md"), "# Count\n\nCount things, then have a person check.\n");
    const env = { OPENAI_BASE_URL: fake.url, FARCASTER_MODEL: "fake-planner", FARCASTER_USER: "erin" };
    const job = spawnFarcaster(["goal.md", "--yes"], { cwd: dir, env });
    await until(async () => (await pendingGates(db)).some((g) => g.taskKey === "check"), 20_000, "the review gate");
    expect(job.seen).toContain("the Architect is planning goal.md");
    expect(job.seen).toContain("plan approved on your behalf (--yes): Approve the plan: 2 tasks in 2 waves?");
    const [gate] = await pendingGates(db); // --yes approves the plan, never a task's own gate
    await farcaster(["approve", gate!.id], { cwd: dir, env });
    expect(await job.proc.exited).toBe(0);
    const gates = await withReader(db, (store) => store.listGates());
    expect(gates.map((g) => ({ task: g.taskKey, decidedBy: g.decidedBy, state: g.state }))).toEqual([
      { task: "@plan", decidedBy: "erin (--yes)", state: "approved" },
      { task: "check", decidedBy: "erin", state: "approved" },
    ]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body.messages[1].content).toContain("Count things, then have a person check.");
  });

  test("--yes does not approve shell commands a model wrote: without a terminal they are printed in full and held for `farcaster approve`", async () => {
    const long = `echo ${"a-long-argument ".repeat(12).trim()} > hello.txt`;
    const plan = {
      version: 1,
      goal: "Say hello",
      tasks: [{ id: "hello", title: "Write hello", workflow: "shell", input: { command: long } }],
    };
    fake = startFakeOpenAI([{ content: JSON.stringify(plan) }]);
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    writeFileSync(join(dir, "goal.md"), "# Say hello\n\nWrite hello.txt.\n");
    const env = { OPENAI_BASE_URL: fake.url, FARCASTER_MODEL: "fake-planner", FARCASTER_USER: "erin" };
    const job = spawnFarcaster(["goal.md", "--yes"], { cwd: dir, env });
    await until(async () => (await pendingGates(db)).length > 0, 20_000, "the plan gate");
    await until(() => job.seen.includes(`$ ${long}`), 10_000, "the command printed in full");
    expect(job.seen).toContain("--yes does not approve this plan: it has 1 shell command written by a model");
    expect(job.seen).toContain("approve: farcaster approve");
    expect(existsSync(join(dir, "hello.txt"))).toBe(false); // nothing ran unseen
    const [gate] = await pendingGates(db);
    await farcaster(["approve", gate!.id], { cwd: dir, env: { ...env, FARCASTER_USER: "frank" } });
    expect(await job.proc.exited).toBe(0);
    expect(readFileSync(join(dir, "hello.txt"), "utf8")).toContain("a-long-argument");
    expect((await withReader(db, (store) => store.listGates()))[0]).toMatchObject({ decidedBy: "frank", state: "approved" });
  });

  test("a crash of the planning drone after the model answered does not call the model again", async () => {
    const plan = { version: 1, goal: "g", tasks: [{ id: "mark", title: "Mark", workflow: "shell", input: { command: "echo done > mark.txt" } }] };
    fake = startFakeOpenAI([{ content: JSON.stringify(plan) }]);
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    writeFileSync(join(dir, "goal.md"), "# Mark the spot\n");
    const env = { OPENAI_BASE_URL: fake.url, FARCASTER_MODEL: "fake-planner" };
    // Without a terminal and without --yes, a model-written shell command waits at the plan gate.
    const job = spawnFarcaster(["goal.md"], { cwd: dir, env });
    await until(async () => (await pendingGates(db)).length > 0, 20_000, "the plan gate");
    job.proc.kill("SIGKILL");
    await job.proc.exited;
    const [gate] = await pendingGates(db);
    expect(gate!.taskKey).toBe("@plan");
    await farcaster(["approve", gate!.id], { cwd: dir });
    const runId = (await runsOf(db))[0]!.id;
    const resumed = await farcaster(["resume", runId], { cwd: dir, env });
    expect(resumed.code).toBe(0);
    expect(existsSync(join(dir, "mark.txt"))).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });
});
