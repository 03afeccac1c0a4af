/**
 * Crash recovery on PostgreSQL with real processes: drones are `farcaster
 * worker` subprocesses on one schema, killed with SIGKILL or frozen with
 * SIGSTOP, as test/crash.test.ts and test/group-commit.test.ts do on SQLite.
 * Each drone tags its connections with application_name=<its id>, so a test
 * can see in pg_stat_activity whether it is inside a transaction.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadWorkflowDir, WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { PostgresStore } from "../src/store/postgres/store.ts";
import { ENTRY } from "./cli-helpers.ts";
import { dropSchema, migratedSchema, openPgStore, pgAdmin, pgAvailable, pgUrl } from "./fixtures/pg.ts";
import { freshDir, until } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "workflows");
const CLAIMER = join(import.meta.dir, "fixtures", "claimer.ts");
const spawned: Subprocess[] = [];
const schemas: string[] = [];

afterEach(async () => {
  for (const proc of spawned.splice(0)) {
    try {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
    } catch {}
    await proc.exited;
  }
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

/** A migrated schema for this test, and a store on it in this process (the observer). */
async function database(): Promise<{ store: PostgresStore; url: string }> {
  const schema = await migratedSchema();
  schemas.push(schema);
  return { store: await openPgStore(schema), url: pgUrl(schema) };
}

interface DroneProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  out: string;
  err: string;
  done: Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number>;
}

function tagged(url: string, id: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", id);
  return u.toString();
}

function drone(url: string, id: string, extra: string[] = []): DroneProcess {
  const proc = Bun.spawn([process.execPath, ENTRY, "worker", "--db", tagged(url, id), "--workflows", FIXTURES, "--lease", "1s", "--id", id, ...extra], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  spawned.push(proc);
  const handle: DroneProcess = { proc, out: "", err: "", done: Promise.resolve(), kill: (signal) => proc.kill(signal), exited: proc.exited };
  const collect = async (stream: ReadableStream<Uint8Array>, field: "out" | "err") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) handle[field] += decoder.decode(chunk, { stream: true });
  };
  handle.done = Promise.all([collect(proc.stdout, "out"), collect(proc.stderr, "err")]).then(() => {});
  return handle;
}

async function registry(): Promise<WorkflowRegistry> {
  const r = new WorkflowRegistry();
  await loadWorkflowDir(r, FIXTURES);
  return r;
}

/**
 * SIGSTOP, but never while the drone is inside a transaction: a frozen
 * transaction keeps its row locks, and the task it holds could not be
 * reclaimed until the server ends the session (idle_in_transaction_session_timeout,
 * see src/store/postgres/database.ts). That is PostgreSQL protecting the
 * lock, not what this test is about.
 */
async function freezeOutsideTransaction(proc: Subprocess, id: string): Promise<void> {
  for (;;) {
    proc.kill("SIGSTOP");
    const busy = await pgAdmin().unsafe<{ n: string }[]>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1 AND state <> 'idle'",
      [`${id}%`],
    );
    if (Number(busy[0]!.n) === 0) return;
    proc.kill("SIGCONT");
    await Bun.sleep(5);
  }
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

async function countedRun(store: PostgresStore, effects: string, input: Record<string, unknown> = {}) {
  const { run } = await submitPlan(store, await registry(), {
    goal: "crash test",
    tasks: [{ id: "job", title: "five steps", workflow: "counted", input: { effects, ...input } }],
  });
  return { runId: run.id, taskId: (await store.findTask(run.id, "job")).id };
}

describe.skipIf(!pgAvailable)("crash recovery on PostgreSQL with real drone processes", () => {
  test("SIGKILL in the middle of a step: another drone resumes after the last committed step", async () => {
    const { store, url } = await database();
    const effects = join(freshDir(), "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { runId, taskId } = await countedRun(store, effects, { slowStep: 3, slowMs: 60_000 });
    const first = drone(url, "first");
    await until(() => lines(effects).includes("start s3 first"), 15_000, "step s3 to start");
    first.kill("SIGKILL");
    expect(await first.exited).not.toBe(0);
    rmSync(`${effects}.slow`);

    const second = drone(url, "second");
    await until(async () => (await store.getRun(runId)).state === "succeeded", 15_000, "recovery");
    second.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    expect(lines(effects)).toEqual([
      "start s1 first", "end s1 first",
      "start s2 first", "end s2 first",
      "start s3 first", // killed here
      "start s3 second", "end s3 second",
      "start s4 second", "end s4 second",
      "start s5 second", "end s5 second",
    ]);
    expect((await store.getTask(taskId)).output).toEqual({ values: [10, 20, 30, 40, 50], sum: 150 });
    const attempts = await store.listAttempts(taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["first", "crashed"], ["second", "succeeded"]]);
    expect((await store.listSteps(taskId)).map((s) => [s.key, s.attemptId])).toEqual([
      ["s1", attempts[0]!.id], ["s2", attempts[0]!.id],
      ["s3", attempts[1]!.id], ["s4", attempts[1]!.id], ["s5", attempts[1]!.id],
    ]);
  }, 60_000);

  test("a frozen drone whose lease was reclaimed cannot journal or complete when it wakes up", async () => {
    const { store, url } = await database();
    const effects = join(freshDir(), "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { runId, taskId } = await countedRun(store, effects, { slowStep: 3, slowMs: 1_500, reportWorker: true });
    const stale = drone(url, "stale");
    await until(() => lines(effects).includes("start s3 stale"), 15_000, "step s3 to start");
    await freezeOutsideTransaction(stale.proc, "stale");
    rmSync(`${effects}.slow`);

    const fresh = drone(url, "fresh");
    await until(async () => (await store.getRun(runId)).state === "succeeded", 15_000, "takeover");
    stale.kill("SIGCONT");
    // The stale drone finishes its step (a side effect we cannot undo) but the fence refuses its commits.
    await until(() => lines(effects).includes("end s3 stale"), 10_000, "stale step to end");
    await until(() => stale.out.includes(`lost      ${runId}/job`), 10_000, "the stale drone to report the lease lost");
    for (const proc of [stale, fresh]) proc.kill("SIGTERM");
    await Promise.all([stale.done, stale.exited, fresh.exited]);

    expect((await store.getTask(taskId)).output).toMatchObject({ sum: 150, finishedBy: "fresh" });
    const attempts = await store.listAttempts(taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["stale", "crashed"], ["fresh", "succeeded"]]);
    const steps = await store.listSteps(taskId);
    expect(steps.filter((s) => s.attemptId === attempts[0]!.id).map((s) => s.key)).toEqual(["s1", "s2"]);
  }, 60_000);

  // One lane (16 slots), and three write lanes of 128 (a drone alone opens them all): a lane's batch in flight
  // at the kill holds steps whose ctx.step has not returned, and only those may be lost.
  for (const shape of [
    { name: "one write lane", slots: "16", tasks: 40, steps: 25, before: 300, held: null },
    { name: "three write lanes", slots: "384", tasks: 400, steps: 10, before: 300, held: 128 },
  ]) test(`every step whose ctx.step had returned before a SIGKILL is in the journal, and is never run again (${shape.name})`, async () => {
    const { store, url } = await database();
    const effects = join(freshDir(), "effects.log");
    const tasks = Array.from({ length: shape.tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "journaled", input: { effects, steps: shape.steps } }));
    const { run } = await submitPlan(store, await registry(), { goal: "kill me", tasks });
    const victim = drone(url, "victim", ["--quiet", "-c", shape.slots]);
    // Tasks the victim holds: started, not through their last step. Over one lane's slots: it claims through more than one.
    const held = () => {
      const mine = lines(effects).filter((l) => l.endsWith(" victim"));
      const last = mine.filter((l) => l.startsWith("returned ") && l.split(" ")[2] === `s${shape.steps}`);
      return new Set(mine.map((l) => l.split(" ")[1])).size - new Set(last.map((l) => l.split(" ")[1])).size;
    };
    // (The kill follows the check at once; a count taken after it could differ: the victim writes until the signal lands.)
    await until(() => lines(effects).filter((l) => l.startsWith("returned")).length >= shape.before && (shape.held === null || held() > shape.held), 20_000, "the victim to get going");
    victim.kill("SIGKILL");
    await victim.exited;
    const returned = lines(effects).filter((l) => l.startsWith("returned") && l.endsWith(" victim")).map((l) => l.split(" ").slice(1, 3).join(" "));
    expect(returned.length).toBeGreaterThanOrEqual(shape.before);
    const journal = new Set<string>();
    for (const task of await store.listTasks(run.id)) for (const s of await store.listSteps(task.id)) journal.add(`${task.key} ${s.key}`);
    expect(returned.filter((r) => !journal.has(r))).toEqual([]);

    const rescuer = drone(url, "rescuer", ["--quiet", "-c", "16"]);
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the rescuer to finish the run");
    rescuer.kill("SIGTERM");
    await rescuer.exited;
    const ranAgain = new Set(lines(effects).filter((l) => l.startsWith("ran") && l.endsWith(" rescuer")).map((l) => l.split(" ").slice(1, 3).join(" ")));
    expect(returned.filter((r) => ranAgain.has(r))).toEqual([]);
  }, 60_000);

  test("4 drone processes on a 500-task DAG with random SIGKILLs: nothing lost, no committed step run twice, every task one successful attempt", async () => {
    const { store, url } = await database();
    const effects = join(freshDir(), "effects.log");
    const tasks: { id: string; title: string; workflow: string; input: object; after: string[] }[] = [];
    const add = (id: string, after: string[]) => tasks.push({ id, title: id, workflow: "swarmjournal", input: { effects, stepMs: 5 }, after });
    add("root", []);
    const joins: string[] = [];
    for (let g = 0; g < 20; g++) {
      const members = Array.from({ length: 23 }, (_, i) => `g${g}m${i}`);
      for (const m of members) add(m, ["root"]);
      add(`g${g}join`, members);
      joins.push(`g${g}join`);
    }
    for (let i = 0; i < 18; i++) add(`solo${i}`, []);
    add("final", [...joins, "solo0"]);
    expect(tasks).toHaveLength(500);
    const { run } = await submitPlan(store, await registry(), { goal: "swarm under fire", tasks });

    let next = 0;
    const ids = new Map<DroneProcess, string>();
    const start = () => {
      const id = `d${next++}`;
      const handle = drone(url, id, ["--quiet", "-c", "8"]);
      ids.set(handle, id);
      return handle;
    };
    const live = Array.from({ length: 4 }, start);
    // A seeded sequence of kills: one every 300–700 ms, the victim replaced at once, until the run ends.
    // The victim is one holding a task when there is one (on a loaded machine a drone just started
    // may not have claimed yet), so the kills land on work in flight.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const holding = async () => new Set((await store.listTasks(run.id)).filter((t) => t.state === "running").map((t) => t.leaseOwner));
    let kills = 0;
    while ((await store.getRun(run.id)).state === "running" && kills < 8) {
      await Bun.sleep(300 + Math.floor(random() * 400));
      const owners = await holding();
      const candidates = live.filter((d) => owners.has(ids.get(d)!));
      const pool = candidates.length > 0 ? candidates : live;
      const victim = pool[Math.floor(random() * pool.length)]!;
      live.splice(live.indexOf(victim), 1);
      victim.kill("SIGKILL");
      await victim.exited;
      kills++;
      live.push(start());
    }
    await until(async () => (await store.getRun(run.id)).state !== "running", 90_000, "the swarm to finish");
    for (const proc of live) proc.kill("SIGTERM");
    await Promise.all(live.map((p) => p.exited));
    expect(kills).toBeGreaterThan(0);

    // Nothing lost: every task succeeded, the run with them.
    expect((await store.getRun(run.id)).state).toBe("succeeded");
    const records = await store.listTasks(run.id);
    expect(records.filter((t) => t.state !== "succeeded")).toEqual([]);
    // Every task exactly one successful attempt (the others crashed with their drone).
    const attempts = new Map<number, Awaited<ReturnType<PostgresStore["listAttempts"]>>>();
    for (const task of records) attempts.set(task.id, await store.listAttempts(task.id));
    expect(records.filter((t) => attempts.get(t.id)!.filter((a) => a.state === "succeeded").length !== 1).map((t) => t.key)).toEqual([]);
    expect(records.filter((t) => attempts.get(t.id)!.some((a) => !["succeeded", "crashed"].includes(a.state))).map((t) => t.key)).toEqual([]);
    const crashed = [...attempts.values()].flat().filter((a) => a.state === "crashed").length;
    expect(crashed).toBeGreaterThan(0); // the kills landed on tasks in flight
    // No committed step ran again: no step ran in an attempt later than the one its journal record names.
    const committedBy = new Map<string, number>();
    for (const task of records) for (const s of await store.listSteps(task.id)) committedBy.set(`${task.key} ${s.key}`, s.attemptId);
    expect(committedBy.size).toBe(1_000);
    const late = lines(effects)
      .map((line) => line.split(" "))
      .filter(([, key, step, attempt]) => Number(attempt) > committedBy.get(`${key} ${step}`)!)
      .map((parts) => parts.join(" "));
    expect(late).toEqual([]);
    // Dependencies first: each task started after its dependencies succeeded.
    const events = await store.listEvents({ runId: run.id, limit: 100_000 });
    const succeeded = new Map(events.filter((e) => e.type === "task.succeeded").map((e) => [e.taskId!, e.id]));
    const lastStart = new Map<number, number>();
    for (const e of events) if (e.type === "task.started") lastStart.set(e.taskId!, e.id);
    const idOf = new Map(records.map((t) => [t.key, t.id]));
    for (const task of records) for (const dep of task.after) expect(lastStart.get(task.id)!).toBeGreaterThan(succeeded.get(idOf.get(dep)!)!);
    expect((await store.findTask(run.id, "final")).output).toEqual({ key: "final", deps: 21 });
  }, 120_000);

  test("4 processes claiming from one schema run a fan-out/fan-in DAG: every task once, dependencies first", async () => {
    const { store, url } = await database();
    const tasks = [{ id: "root", title: "root", workflow: "noop", after: [] as string[] }];
    for (let b = 0; b < 60; b++) {
      for (let s = 0; s < 4; s++) tasks.push({ id: `b${b}s${s}`, title: "step", workflow: "noop", after: [s === 0 ? "root" : `b${b}s${s - 1}`] });
    }
    tasks.push({ id: "join", title: "join", workflow: "noop", after: Array.from({ length: 60 }, (_, b) => `b${b}s3`) });
    const run = await store.createRun({ goal: "swarm", tasks });
    const startAt = String(Date.now() + 1_500);
    const procs = Array.from({ length: 4 }, (_, i) => Bun.spawn([process.execPath, CLAIMER, url, run.id, `proc-${i}`, startAt], { stdout: "pipe", stderr: "inherit" }));
    spawned.push(...procs);
    const results = await Promise.all(procs.map(async (p) => JSON.parse(await new Response(p.stdout).text()) as number[]));
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
    const all = results.flat();
    expect(all).toHaveLength(tasks.length);
    expect(new Set(all).size).toBe(tasks.length);
    expect(results.filter((r) => r.length > 0).length).toBeGreaterThan(1);
    expect(await store.getRun(run.id)).toMatchObject({ state: "succeeded", tasksOpen: 0 });
    const records = await store.listTasks(run.id);
    expect(records.every((t) => t.state === "succeeded" && t.attempts === 1)).toBe(true);
    const events = await store.listEvents({ runId: run.id, limit: 10_000 });
    const startedAt = new Map(events.filter((e) => e.type === "task.started").map((e) => [e.taskId!, e.id]));
    const succeededAt = new Map(events.filter((e) => e.type === "task.succeeded").map((e) => [e.taskId!, e.id]));
    const idOf = new Map(records.map((t) => [t.key, t.id]));
    for (const task of records) for (const dep of task.after) expect(startedAt.get(task.id)!).toBeGreaterThan(succeededAt.get(idOf.get(dep)!)!);
  }, 60_000);
});
