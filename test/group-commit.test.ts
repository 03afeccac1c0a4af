/**
 * Group commit: the writes of one event-loop turn share one transaction
 * (steps and completions as sets; write by write, each in its savepoint,
 * when one of them fails), and every caller learns its outcome only after
 * that COMMIT. These tests queue writes in one turn (no await in between)
 * and check what the batch did.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../src/core/clock.ts";
import { LeaseLostError } from "../src/core/errors.ts";
import { Drone } from "../src/engine/drone.ts";
import { loadWorkflowDir, WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import { GroupWriter } from "../src/store/sqlite/writer.ts";
import type { StepWrite } from "../src/store/types.ts";
import { ENTRY } from "./cli-helpers.ts";
import { workflow } from "./engine-helpers.ts";
import { freshDir, freshRealTimeStore, freshStore, plan, rejected, until } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "workflows");

function step(key: string, seq: number): StepWrite {
  return { key, seq, kind: "step", status: "completed", input: null, output: seq, error: null, startedAt: 0, endedAt: 0 };
}

describe("one batch, one transaction", () => {
  test("writes queued in one turn commit together; a lost lease fails only its own write", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"], ["c"]));
    const [a] = await store.claimTasks("w", 3, 1_000);
    clock.advance(1_001);
    // Every lease expired: the thief takes a, and "w" takes the other two again under new attempts.
    const [stolen] = await store.claimTasks("thief", 1, 60_000);
    expect(stolen!.taskId).toBe(a!.taskId);
    const again = await store.claimTasks("w", 2, 60_000);
    const before = { ...store.writeStats };
    const results = await Promise.allSettled([
      store.recordStep(again[0]!.taskId, again[0]!.attemptId, step("s1", 1)),
      store.recordStep(a!.taskId, a!.attemptId, step("s1", 1)), // stale: a is the thief's now
      store.completeTask(again[1]!.taskId, again[1]!.attemptId, "done"),
    ]);
    expect(store.writeStats.batches - before.batches).toBe(1);
    // Applied without savepoints first; the lost lease sent the batch round again with them.
    expect(store.writeStats.safeRetries - before.safeRetries).toBe(1);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
    expect(await store.listSteps(a!.taskId)).toEqual([]);
    expect((await store.listSteps(again[0]!.taskId)).map((s) => s.key)).toEqual(["s1"]);
    expect((await store.getTask(again[1]!.taskId)).state).toBe("succeeded");
    // The step written before the failing one is there once, not twice (the first pass was rolled back).
    expect((await store.listSteps(again[0]!.taskId)).map((s) => [s.key, s.attemptId])).toEqual([["s1", again[0]!.attemptId]]);
  });

  test("a batch in which nothing throws is applied without savepoints", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"], ["b"]));
    const claimed = await store.claimTasks("w", 2, 10_000);
    const before = store.writeStats.safeRetries;
    await Promise.all(claimed.map((task) => store.recordStep(task.taskId, task.attemptId, step("s1", 1))));
    await Promise.all(claimed.map((task) => store.completeTask(task.taskId, task.attemptId, null)));
    expect(store.writeStats.safeRetries).toBe(before);
  });

  test("a write that throws halfway is rolled back alone, and the others of its batch still resolve", async () => {
    const { store } = freshStore();
    const good = await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 10_000);
    // An input that cannot become JSON fails after the run row was inserted.
    const bad = { goal: "g", tasks: [{ id: "x", title: "X", workflow: "noop" }, { id: "y", title: "Y", workflow: "noop", input: { n: 10n } }] };
    const [created, completed] = await Promise.allSettled([store.createRun(bad), store.completeTask(a!.taskId, a!.attemptId, 1)]);
    expect(created.status).toBe("rejected");
    expect(completed.status).toBe("fulfilled");
    expect((await store.listRuns()).map((r) => r.id)).toEqual([good.id]); // nothing of the bad run
    expect((await store.getRun(good.id)).state).toBe("succeeded");
  });

  test("a dependent whose other dependencies finished in earlier batches is named by the completion of the set that readied it", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["b"], ["c"], ["d", "a", "b"], ["e", "a", "c"]));
    const claimed = await store.claimTasks("w", 3, 10_000);
    const byKey = new Map(await Promise.all(claimed.map(async (task) => [(await store.getTask(task.taskId)).key, task] as const)));
    const a = byKey.get("a")!;
    await store.completeTask(a.taskId, a.attemptId, null); // a batch of its own, before the set
    const set = ["c", "b"].map((key) => byKey.get(key)!);
    const before = { ...store.writeStats };
    const results = await Promise.all(set.map((task) => store.completeTask(task.taskId, task.attemptId, null)));
    expect(store.writeStats.safeRetries).toBe(before.safeRetries); // applied as a set
    expect(results.map((r) => r.unblocked)).toEqual([1, 1]); // c readied e, b readied d
    const events = (await store.listEvents({ runId: run.id })).filter((e) => e.type === "task.succeeded");
    expect(events.map((e) => [e.taskId, (e.data as { unblocked: string[] }).unblocked])).toEqual([
      [a.taskId, []],
      [byKey.get("c")!.taskId, ["e"]],
      [byKey.get("b")!.taskId, ["d"]],
    ]);
  });

  test("completions of one batch are applied as one set: a dependent of several of them is readied once, named by the last", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["b"], ["c"], ["sink", "a", "b", "c"], ["after-b", "b"]));
    const claimed = await store.claimTasks("w", 3, 10_000);
    const byKey = new Map(await Promise.all(claimed.map(async (task) => [(await store.getTask(task.taskId)).key, task] as const)));
    const before = { ...store.writeStats };
    const order = ["c", "a", "b"].map((key) => byKey.get(key)!);
    await Promise.all(order.map((task) => store.recordStep(task.taskId, task.attemptId, step("s1", 1))));
    const results = await Promise.all(order.map((task) => store.completeTask(task.taskId, task.attemptId, { key: task.taskId })));
    expect(store.writeStats.safeRetries).toBe(before.safeRetries); // applied as sets, not write by write
    expect(store.writeStats.batches - before.batches).toBe(2);
    // b is last in the batch: it readies both the sink (its last dependency) and after-b.
    expect(results.map((r) => r.unblocked)).toEqual([0, 0, 2]);
    expect(results.every((r) => r.runState === "running")).toBe(true);
    const events = (await store.listEvents({ runId: run.id })).filter((e) => e.type === "task.succeeded");
    expect(events.map((e) => [e.taskId, (e.data as { unblocked: string[] }).unblocked.sort()])).toEqual([
      [byKey.get("c")!.taskId, []],
      [byKey.get("a")!.taskId, []],
      [byKey.get("b")!.taskId, ["after-b", "sink"]],
    ]);
    const tasks = new Map((await store.listTasks(run.id)).map((task) => [task.key, task]));
    expect(tasks.get("sink")).toMatchObject({ state: "ready", pendingDeps: 0 });
    expect(tasks.get("a")).toMatchObject({ state: "succeeded", output: { key: byKey.get("a")!.taskId } });
    expect((await store.listAttempts(byKey.get("a")!.taskId)).map((a) => a.state)).toEqual(["succeeded"]);
    expect((await store.getRun(run.id)).tasksOpen).toBe(2);
  });

  test("a completion whose lease was lost sends its set round write by write: only it fails", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"]));
    const [a, b] = await store.claimTasks("w", 2, 1_000);
    clock.advance(1_001);
    const [stolen] = await store.claimTasks("thief", 1, 60_000);
    const [mine, lost] = stolen!.taskId === a!.taskId ? [b!, a!] : [a!, b!];
    const again = (await store.claimTasks("w", 1, 60_000))[0]!; // mine, under a new attempt
    expect(again.taskId).toBe(mine.taskId);
    const before = store.writeStats.safeRetries;
    const [ok, refused] = await Promise.allSettled([store.completeTask(again.taskId, again.attemptId, 1), store.completeTask(lost.taskId, lost.attemptId, 2)]);
    expect(store.writeStats.safeRetries).toBe(before + 1);
    expect(ok.status).toBe("fulfilled");
    expect(refused.status === "rejected" && refused.reason).toBeInstanceOf(LeaseLostError);
    expect((await store.getTask(again.taskId)).state).toBe("succeeded");
    expect((await store.getTask(lost.taskId))).toMatchObject({ state: "running", leaseOwner: "thief" });
  });

  // 263 = two chunks of 128 and one of 7, padded to 8 (src/store/sqlite/valuesRows.ts).
  const SET = 263;

  test(`sets longer than one VALUES list (${SET} steps, then ${SET} completions, each in one turn) are applied in chunks, every column and event in place`, async () => {
    const { store } = freshStore();
    const ids = Array.from({ length: SET }, (_, i) => `t${i}`);
    // "join" waits for a task of the first chunk and one of the last.
    const { id: runId } = await store.createRun(plan(...ids.map((id): [string] => [id]), ["join", "t0", `t${SET - 1}`]));
    const claimed = await store.claimTasks("w", SET, 60_000);
    expect(claimed).toHaveLength(SET);
    const before = { ...store.writeStats };
    await Promise.all(claimed.map((task, i) => store.recordStep(task.taskId, task.attemptId, {
      key: "s", seq: 1, kind: "step", status: "completed", input: { i }, output: `out ${i}`, error: null, startedAt: i, endedAt: i + 1,
      usage: { inputTokens: i, outputTokens: i + 1 },
    })));
    // Completed in another order than claimed: the events follow the calls.
    const order = claimed.map((_, i) => (i * 7) % SET);
    const results = await Promise.all(order.map((i) => store.completeTask(claimed[i]!.taskId, claimed[i]!.attemptId, { i })));
    expect(store.writeStats.batches - before.batches).toBe(2);
    expect(store.writeStats.safeRetries - before.safeRetries).toBe(0); // the set path, not write by write
    for (const i of [0, 127, 128, 255, 256, SET - 1]) {
      const task = claimed[i]!;
      const [recorded] = await store.listSteps(task.taskId);
      expect(recorded).toMatchObject({ key: "s", seq: 1, attemptId: task.attemptId, input: { i }, output: `out ${i}`, startedAt: i, endedAt: i + 1 });
      expect(recorded!.usage).toEqual({ inputTokens: i, outputTokens: i + 1 });
      expect(await store.getTask(task.taskId)).toMatchObject({ state: "succeeded", output: { i } });
      expect((await store.listAttempts(task.taskId)).map((a) => a.state)).toEqual(["succeeded"]);
    }
    const succeeded = (await store.listEvents({ runId, limit: 10_000 })).filter((e) => e.type === "task.succeeded");
    expect(succeeded.map((e) => e.taskId)).toEqual(order.map((i) => claimed[i]!.taskId));
    expect(succeeded.every((e, k) => e.attemptId === claimed[order[k]!]!.attemptId && e.actor === "w")).toBe(true);
    // The join was readied once, named by whichever of its two dependencies completed later.
    const last = order.indexOf(0) > order.indexOf(SET - 1) ? 0 : SET - 1;
    const named = succeeded.filter((e) => (e.data as { unblocked: string[] }).unblocked.length > 0);
    expect(named.map((e) => [e.taskId, (e.data as { unblocked: string[] }).unblocked])).toEqual([[claimed[last]!.taskId, ["join"]]]);
    expect(results.reduce((sum, r) => sum + r.unblocked, 0)).toBe(1);
    expect((await store.claimTasks("w", 5, 60_000)).map((c) => c.key)).toEqual(["join"]);
  });

  test(`a lost lease in the last chunk of a set sends the whole set round write by write: the chunks already applied are rolled back, not applied twice`, async () => {
    const { store, clock } = freshStore();
    const { id: runId } = await store.createRun(plan(...Array.from({ length: SET }, (_, i): [string] => [`t${i}`])));
    const [lost] = await store.claimTasks("w", 1, 1_000); // t0, on a short lease
    const mine = await store.claimTasks("w", SET - 1, 60_000);
    clock.advance(1_001);
    const [stolen] = await store.claimTasks("thief", 1, 60_000);
    expect(stolen!.taskId).toBe(lost!.taskId);
    // The stale completion goes last, in the third chunk: the set fails after two chunks were applied.
    const writes = [...mine, lost!];
    const before = store.writeStats.safeRetries;
    const results = await Promise.allSettled(writes.map((task) => store.completeTask(task.taskId, task.attemptId, "done")));
    expect(store.writeStats.safeRetries).toBe(before + 1);
    // Had the first chunks stayed applied, their completions would fail their fence on the second pass.
    expect(results.slice(0, -1).every((r) => r.status === "fulfilled")).toBe(true);
    expect(results.at(-1)!.status === "rejected" && (results.at(-1) as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
    const succeeded = (await store.listEvents({ runId, limit: 10_000 })).filter((e) => e.type === "task.succeeded");
    expect(succeeded.map((e) => e.taskId)).toEqual(mine.map((t) => t.taskId));
    for (const task of [mine[0]!, mine[200]!, mine.at(-1)!]) {
      expect((await store.listAttempts(task.taskId)).map((a) => a.state)).toEqual(["succeeded"]);
    }
    expect(await store.getTask(lost!.taskId)).toMatchObject({ state: "running", leaseOwner: "thief" });
    expect((await store.getRun(runId)).tasksOpen).toBe(1);
  });

  test("a task's writes keep their order: its steps and then its completion, queued in one turn", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 10_000);
    const writes = [1, 2, 3].map((i) => store.recordStep(a!.taskId, a!.attemptId, step(`s${i}`, i)));
    const completion = store.completeTask(a!.taskId, a!.attemptId, "done");
    await Promise.all([...writes, completion]);
    expect((await store.listSteps(a!.taskId)).map((s) => [s.key, s.seq])).toEqual([["s1", 1], ["s2", 2], ["s3", 3]]);
    expect((await store.getTask(a!.taskId)).state).toBe("succeeded");
  });

  test("a claim queued with a completion sees the dependents it made ready, best priority first, within each group's limit", async () => {
    const { store } = freshStore();
    const run = await store.createRun({
      goal: "g",
      tasks: [
        { id: "root", title: "root", workflow: "noop" },
        { id: "low", title: "low", workflow: "noop", after: ["root"], priority: -1 },
        { id: "high", title: "high", workflow: "noop", after: ["root"], priority: 5 },
        { id: "cmd1", title: "cmd1", workflow: "shell", input: { command: "true" }, after: ["root"] },
        { id: "cmd2", title: "cmd2", workflow: "shell", input: { command: "true" }, after: ["root"] },
      ],
    });
    const [root] = await store.claimTasks("w", 1, 10_000);
    const before = store.writeStats.batches;
    // The claim is queued first, yet runs after the completion: claims go last in a batch.
    const claim = store.claimTasks("w", 3, 10_000, { groups: [{ workflows: ["noop"], limit: 3 }, { workflows: ["shell"], limit: 1 }] });
    const done = store.completeTask(root!.taskId, root!.attemptId, "ok");
    const [claimed] = await Promise.all([claim, done]);
    expect(store.writeStats.batches - before).toBe(1);
    expect(claimed.map((c) => c.key)).toEqual(["high", "low", "cmd1"]);
    expect(claimed[0]!.deps).toEqual({ root: "ok" });
    expect((await store.listTasks(run.id)).find((t) => t.key === "cmd2")!.state).toBe("ready");
  });

  test("if the COMMIT itself fails, every write of the batch rejects and none of them is applied", async () => {
    const db = new Database(join(freshDir(), "deferred.db"));
    db.run("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
    db.run("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)");
    db.run("PRAGMA foreign_keys = ON");
    const writer = new GroupWriter({ db, clock: new ManualClock(), busyTimeoutMs: 1_000, checkpointer: null, onCommit: () => {} });
    // The orphan passes its savepoint (the check is deferred) and fails the COMMIT for everyone.
    const results = await Promise.allSettled([
      writer.write("other", (ctx) => ctx.db.run("INSERT INTO parent (id) VALUES (1)")),
      writer.write("other", (ctx) => ctx.db.run("INSERT INTO child (id, parent) VALUES (1, 99)")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(db.query("SELECT count(*) AS n FROM parent").get()).toEqual({ n: 0 });
    expect(db.inTransaction).toBe(false);
    await writer.write("other", (ctx) => ctx.db.run("INSERT INTO parent (id) VALUES (2)")); // the writer carries on
    expect(db.query("SELECT id FROM parent").all()).toEqual([{ id: 2 }]);
    db.close();
  });
});

describe("the drone on group commit", () => {
  test("a dependent is dispatched in the transaction that completed its dependency", async () => {
    const { store } = freshRealTimeStore();
    const wf = workflow("one-step", async (ctx) => ctx.step("work", () => ctx.task.key));
    const registry = new WorkflowRegistry().register(wf);
    const chain = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, title: "c", workflow: "one-step", input: {}, after: i === 0 ? [] : [`c${i - 1}`] }));
    const { run } = await submitPlan(store, registry, { goal: "chain", tasks: chain });
    const before = store.writeStats.batches;
    const drone = new Drone({ store, registry, concurrency: 1 }).start();
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 10_000, "the chain to finish");
    const batches = store.writeStats.batches - before;
    await drone.stop();
    // Per task: its step, then its completion together with the claim of the next one (and a first claim, heartbeats aside).
    expect(batches).toBeLessThanOrEqual(2 * chain.length + 3);
    const events = await store.listEvents({ runId: run.id, limit: 1_000 });
    const succeeded = events.filter((e) => e.type === "task.succeeded");
    const started = events.filter((e) => e.type === "task.started");
    for (let i = 0; i + 1 < chain.length; i++) expect(started[i + 1]!.id).toBe(succeeded[i]!.id + 1); // next event, same transaction
  });

  test("an idle drone wakes when a lease it waits for expires, not at its next poll", async () => {
    const { store } = freshRealTimeStore();
    const wf = workflow("quick", async () => "ok");
    const registry = new WorkflowRegistry().register(wf);
    const { run } = await submitPlan(store, registry, { goal: "g", tasks: [{ id: "t", title: "t", workflow: "quick", input: {} }] });
    await store.claimTasks("crashed-drone", 1, 300); // a drone that will never heartbeat
    const started = Date.now();
    const drone = new Drone({ store, registry, maxIdleMs: 60_000 }).start(); // polls once a minute at most
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 20_000, "the reclaimed task to finish");
    await drone.stop();
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await store.listAttempts((await store.findTask(run.id, "t")).id)).map((a) => a.state)).toEqual(["crashed", "succeeded"]);
  });
});

describe("SIGKILL in the middle of batches", () => {
  const spawned: Subprocess[] = [];
  afterEach(() => {
    for (const proc of spawned.splice(0)) proc.kill("SIGKILL");
  });

  test("every step whose ctx.step had returned is in the journal, and is never run again", async () => {
    const { store, path } = freshRealTimeStore();
    const effects = join(freshDir(), "effects.log");
    const registry = new WorkflowRegistry();
    await loadWorkflowDir(registry, FIXTURES);
    const tasks = Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "journaled", input: { effects, steps: 25 } }));
    const { run } = await submitPlan(store, registry, { goal: "kill me", tasks });
    const drone = (id: string) => {
      const proc = Bun.spawn([process.execPath, ENTRY, "worker", "--db", path, "--workflows", FIXTURES, "--id", id, "--lease", "1s", "--quiet", "-c", "16"], { stdout: "ignore", stderr: "ignore" });
      spawned.push(proc);
      return proc;
    };
    const lines = () => (existsSync(effects) ? readFileSync(effects, "utf8").split("\n").filter(Boolean) : []);
    const victim = drone("victim");
    await until(() => lines().filter((l) => l.startsWith("returned")).length >= 300, 20_000, "the victim to get going");
    victim.kill("SIGKILL");
    await victim.exited;
    const returned = lines().filter((l) => l.startsWith("returned") && l.endsWith(" victim")).map((l) => l.split(" ").slice(1, 3).join(" "));
    expect(returned.length).toBeGreaterThanOrEqual(300);

    // What the victim saw returned is durable: in the journal, recorded by the victim.
    const taskIds = new Map((await store.listTasks(run.id)).map((t) => [t.key, t.id]));
    const journal = new Set<string>();
    for (const [key, id] of taskIds) for (const s of await store.listSteps(id)) journal.add(`${key} ${s.key}`);
    expect(returned.filter((r) => !journal.has(r))).toEqual([]);

    const rescuer = drone("rescuer");
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the rescuer to finish the run");
    rescuer.kill("SIGTERM");
    await rescuer.exited;
    const ranAgain = new Set(lines().filter((l) => l.startsWith("ran") && l.endsWith(" rescuer")).map((l) => l.split(" ").slice(1, 3).join(" ")));
    expect(returned.filter((r) => ranAgain.has(r))).toEqual([]); // nothing whose step had returned ran twice
  }, 60_000);
});
