/**
 * Crash recovery with real processes: drones are `farcaster worker`
 * subprocesses on one SQLite file, killed with SIGKILL or frozen with SIGSTOP.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkflowRegistry, loadWorkflowDir } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { SqliteStore } from "../src/store/sqlite/store.ts";
import { freshDir, freshRealTimeStore, until } from "./helpers.ts";

const ENTRY = join(import.meta.dir, "..", "farcaster.ts");
const FIXTURES = join(import.meta.dir, "fixtures", "workflows");
const spawned: Subprocess[] = [];

afterEach(() => {
  for (const proc of spawned.splice(0)) {
    try {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
    } catch {}
  }
});

/** A drone process; `out` and `err` grow as it writes, `done` resolves once both streams closed. */
interface DroneProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  out: string;
  err: string;
  done: Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number>;
}

function drone(db: string, id: string, extra: string[] = []): DroneProcess {
  const proc = Bun.spawn([process.execPath, ENTRY, "worker", "--db", db, "--workflows", FIXTURES, "--lease", "1s", "--id", id, ...extra], {
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
 * SIGSTOP, but never while the process holds SQLite's write lock (a heartbeat
 * commit lasts microseconds, but a frozen writer would block every process:
 * a property of SQLite, not what this test is about).
 */
async function freezeOutsideWriteLock(proc: Subprocess, dbPath: string): Promise<void> {
  const { Database } = await import("bun:sqlite");
  const probe = new Database(dbPath);
  try {
    for (;;) {
      proc.kill("SIGSTOP");
      try {
        probe.run("BEGIN IMMEDIATE");
        probe.run("ROLLBACK");
        return;
      } catch {
        proc.kill("SIGCONT");
        await Bun.sleep(5);
      }
    }
  } finally {
    probe.close();
  }
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

async function countedRun(store: SqliteStore, effects: string, input: Record<string, unknown> = {}) {
  const { run } = await submitPlan(store, await registry(), {
    goal: "crash test",
    tasks: [{ id: "job", title: "five steps", workflow: "counted", input: { effects, ...input } }],
  });
  return { runId: run.id, taskId: (await store.findTask(run.id, "job")).id };
}

describe("crash recovery with real drone processes", () => {
  test("SIGKILL in the middle of a step: another drone resumes after the last committed step", async () => {
    const { store, path } = freshRealTimeStore();
    const dir = freshDir();

    // Reference: the same task, uninterrupted.
    const reference = join(dir, "reference.log");
    const ref = await countedRun(store, reference);
    const refDrone = drone(path, "ref");
    await until(async () => (await store.getRun(ref.runId)).state === "succeeded", 15_000, "reference run");
    refDrone.kill("SIGTERM");
    await refDrone.exited;
    const expected = (await store.getTask(ref.taskId)).output;

    const effects = join(dir, "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { runId, taskId } = await countedRun(store, effects, { slowStep: 3, slowMs: 60_000 });
    const first = drone(path, "first");
    await until(() => lines(effects).includes("start s3 first"), 15_000, "step s3 to start");
    first.kill("SIGKILL");
    expect(await first.exited).not.toBe(0);
    rmSync(`${effects}.slow`);

    const second = drone(path, "second");
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
    const task = await store.getTask(taskId);
    expect(task.output).toEqual(expected);
    const attempts = await store.listAttempts(taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["first", "crashed"], ["second", "succeeded"]]);
    const steps = await store.listSteps(taskId);
    expect(steps.map((s) => [s.key, s.attemptId])).toEqual([
      ["s1", attempts[0]!.id], ["s2", attempts[0]!.id],
      ["s3", attempts[1]!.id], ["s4", attempts[1]!.id], ["s5", attempts[1]!.id],
    ]);

    // `farcaster inspect` shows both attempts and the journal.
    const inspect = Bun.spawnSync([process.execPath, ENTRY, "inspect", `${runId}/job`, "--db", path]);
    const text = inspect.stdout.toString();
    expect(inspect.exitCode).toBe(0);
    expect(text).toContain(`task ${runId}/job (#${taskId})  succeeded  workflow counted`);
    expect(text).toMatch(/#1 id \d+ {2}crashed {2}by first/);
    expect(text).toMatch(/ {2}3 s3 \[step\] attempt \d+ .* -> 30/);
    const json = JSON.parse(Bun.spawnSync([process.execPath, ENTRY, "inspect", String(taskId), "--db", path, "--json"]).stdout.toString());
    expect(json.steps).toHaveLength(5);
    expect(json.attempts.map((a: { state: string }) => a.state)).toEqual(["crashed", "succeeded"]);
  });

  test("SIGTERM lets the drone release an unfinished task after the grace period; a second signal exits at once", async () => {
    const { store, path } = freshRealTimeStore();
    const effects = join(freshDir(), "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { taskId } = await countedRun(store, effects, { slowStep: 2, slowMs: 60_000 });

    const graceful = drone(path, "graceful", ["--grace", "200ms"]);
    await until(() => lines(effects).includes("start s2 graceful"), 15_000, "step s2 to start");
    const signalled = Date.now();
    graceful.kill("SIGTERM");
    expect(await graceful.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(await store.getTask(taskId)).toMatchObject({ state: "ready", crashes: 0, failures: 0 });
    expect((await store.listAttempts(taskId)).map((a) => a.state)).toEqual(["released"]);

    const impatient = drone(path, "impatient", ["--grace", "60s"]);
    await until(() => lines(effects).includes("start s2 impatient"), 15_000, "step s2 to start again");
    impatient.kill("SIGTERM");
    await until(() => impatient.err.includes("SIGTERM, finishing"), 10_000, "the first SIGTERM to be handled");
    impatient.kill("SIGTERM");
    expect(await impatient.exited).toBe(130);
    expect((await store.getTask(taskId)).state).toBe("running"); // left to lease expiry
    expect(lines(effects).filter((l) => l.startsWith("start s1"))).toHaveLength(1); // s1 was never repeated
  });

  test("a frozen drone whose lease was reclaimed cannot journal or complete when it wakes up", async () => {
    const { store, path } = freshRealTimeStore();
    const effects = join(freshDir(), "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { runId, taskId } = await countedRun(store, effects, { slowStep: 3, slowMs: 1_500, reportWorker: true });
    const stale = drone(path, "stale");
    await until(() => lines(effects).includes("start s3 stale"), 15_000, "step s3 to start");
    await freezeOutsideWriteLock(stale.proc, path);
    rmSync(`${effects}.slow`);

    const fresh = drone(path, "fresh");
    await until(async () => (await store.getRun(runId)).state === "succeeded", 15_000, "takeover");
    stale.kill("SIGCONT");
    // The stale drone finishes its step (a side effect we cannot undo) but the fence refuses its commits.
    await until(() => lines(effects).includes("end s3 stale"), 10_000, "stale step to end");
    // Its next heartbeat or commit is refused, and it gives the task up.
    await until(() => stale.out.includes(`lost      ${runId}/job`), 10_000, "the stale drone to report the lease lost");
    for (const proc of [stale, fresh]) proc.kill("SIGTERM");
    await Promise.all([stale.done, stale.exited, fresh.exited]);
    const staleOut = stale.out;

    const task = await store.getTask(taskId);
    expect(task.output).toMatchObject({ sum: 150, finishedBy: "fresh" });
    const attempts = await store.listAttempts(taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["stale", "crashed"], ["fresh", "succeeded"]]);
    const steps = await store.listSteps(taskId);
    expect(steps.filter((s) => s.attemptId === attempts[0]!.id).map((s) => s.key)).toEqual(["s1", "s2"]);
    expect(staleOut).toContain(`lost      ${runId}/job`);
  });

  test("4 drone processes run a 500-task DAG with fan-out and fan-in: every task once, dependencies first", async () => {
    const { store, path } = freshRealTimeStore();
    const tasks: { id: string; title: string; workflow: string; input: object; after: string[] }[] = [];
    const add = (id: string, after: string[]) => tasks.push({ id, title: id, workflow: "swarmstep", input: {}, after });
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
    // Every drone is up (and has found the host or become it) before there is work: they share it.
    const drones = Array.from({ length: 4 }, (_, i) => drone(path, `d${i}`, ["-c", "4"]));
    await until(() => drones.every((d) => /: writes (here for others|through the host)/.test(d.out)), 20_000, "every drone to be up");
    const { run } = await submitPlan(store, await registry(), { goal: "swarm", tasks });
    await until(async () => (await store.getRun(run.id)).state !== "running", 60_000, "the swarm to finish");
    for (const proc of drones) proc.kill("SIGTERM");
    expect(await Promise.all(drones.map((p) => p.exited))).toEqual([0, 0, 0, 0]);

    expect((await store.getRun(run.id)).state).toBe("succeeded");
    const records = await store.listTasks(run.id);
    expect(records.filter((t) => t.state !== "succeeded" || t.attempts !== 1)).toEqual([]);
    const attempts = await Promise.all(records.map((task) => store.listAttempts(task.id)));
    expect(attempts.filter((list) => list.length !== 1)).toEqual([]);
    expect(new Set(attempts.map((list) => list[0]!.worker)).size).toBeGreaterThan(1); // the work was shared

    const events = await store.listEvents({ runId: run.id, limit: 10_000 });
    const started = new Map(events.filter((e) => e.type === "task.started").map((e) => [e.taskId!, e.id]));
    const succeeded = new Map(events.filter((e) => e.type === "task.succeeded").map((e) => [e.taskId!, e.id]));
    const idOf = new Map(records.map((t) => [t.key, t.id]));
    for (const task of records) for (const dep of task.after) expect(started.get(task.id)!).toBeGreaterThan(succeeded.get(idOf.get(dep)!)!);
    expect((await store.findTask(run.id, "final")).output).toEqual({ key: "final", deps: 21 });
  }, 90_000);
});
