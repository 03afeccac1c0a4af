import { describe, expect, test } from "bun:test";
import { InvalidTransitionError, LeaseLostError, NotFoundError, PlanInvalidError } from "../src/core/errors.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { freshStore, plan, openTestStore, rejected } from "./helpers.ts";

function count(store: SqliteStore, table: string): number {
  return store.db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()!.n;
}

async function states(store: SqliteStore, runId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await store.listTasks(runId)).map((task) => [task.key, task.state]));
}

describe("creating a run", () => {
  test("inserts every task and edge; tasks without dependencies are ready, others blocked with a pending count", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["b", "a"], ["c", "a"], ["d", "b", "c"]), { source: "plan.json" });
    expect(run).toMatchObject({ state: "running", tasksTotal: 4, tasksOpen: 4, tasksFailed: 0, source: "plan.json" });
    const tasks = await store.listTasks(run.id);
    expect(tasks.map((t) => [t.key, t.state, t.pendingDeps, t.after])).toEqual([
      ["a", "ready", 0, []],
      ["b", "blocked", 1, ["a"]],
      ["c", "blocked", 1, ["a"]],
      ["d", "blocked", 2, ["b", "c"]],
    ]);
    expect(count(store, "task_deps")).toBe(4);
    const events = await store.listEvents({ runId: run.id });
    expect(events.map((e) => e.type)).toEqual(["run.created"]);
  });

  test("an invalid plan is rejected before anything is written, naming the tasks of the cycle", async () => {
    const { store } = freshStore();
    const attempt = store.createRun(plan(["a", "c"], ["b", "a"], ["c", "b"]));
    expect(await rejected(attempt)).toBeInstanceOf(PlanInvalidError);
    expect((await rejected(attempt)).message).toContain("dependency cycle: a -> b -> c -> a");
    for (const table of ["runs", "tasks", "task_deps", "events"]) expect(count(store, table)).toBe(0);
  });

  test("a task field the database refuses rolls back the whole run", async () => {
    const { store } = freshStore();
    // A task input that cannot become JSON fails midway through the inserts.
    const bad = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }, { id: "b", title: "B", workflow: "noop", input: { n: 10n } }] };
    expect(await rejected(store.createRun(bad))).toBeInstanceOf(Error);
    for (const table of ["runs", "tasks", "events"]) expect(count(store, table)).toBe(0);
  });

  test("the same idempotency key returns the same run instead of a second one", async () => {
    const { store } = freshStore();
    const first = await store.createRun(plan(["a"]), { idempotencyKey: "nightly-2026-11-25" });
    const second = await store.createRun(plan(["a"]), { idempotencyKey: "nightly-2026-11-25" });
    expect(second.id).toBe(first.id);
    expect(count(store, "runs")).toBe(1);
  });

  test("unknown runs and tasks are NotFoundError with the id", async () => {
    const { store } = freshStore();
    expect(await rejected(store.getRun("rnope"))).toBeInstanceOf(NotFoundError);
    expect((await rejected(store.getRun("rnope"))).message).toContain('run "rnope" not found');
    expect((await rejected(store.getTask(42))).message).toContain('task "42" not found');
  });
});

describe("claiming", () => {
  test("picks ready tasks by priority (higher first), then availability, then id, up to the limit", async () => {
    const { store } = freshStore();
    const run = await store.createRun({
      goal: "g",
      tasks: [
        { id: "low", title: "low", workflow: "noop", priority: -5 },
        { id: "first", title: "first", workflow: "noop" },
        { id: "urgent", title: "urgent", workflow: "noop", priority: 10 },
        { id: "second", title: "second", workflow: "noop" },
      ],
    });
    const claimed = await store.claimTasks("w1", 3, 10_000);
    expect(claimed.map((c) => c.key)).toEqual(["urgent", "first", "second"]);
    expect(claimed[0]).toMatchObject({ runId: run.id, workflow: "noop", attempt: 1, maxAttempts: 1 });
    expect(new Set(claimed.map((c) => c.attemptId)).size).toBe(3);
    expect((await store.claimTasks("w2", 10, 10_000)).map((c) => c.key)).toEqual(["low"]);
    expect(await store.claimTasks("w3", 10, 10_000)).toEqual([]);
  });

  test("two stores on one file never claim the same task", async () => {
    const { store, clock, path } = freshStore();
    const other = openTestStore(path, { clock });
    await store.createRun(plan(...Array.from({ length: 50 }, (_, i) => [`t${i}`] as [string])));
    const seen = new Set<number>();
    for (let round = 0; round < 30; round++) {
      const [a, b] = await Promise.all([store.claimTasks("w1", 2, 10_000), other.claimTasks("w2", 2, 10_000)]);
      for (const claim of [...a, ...b]) {
        expect(seen.has(claim.taskId)).toBe(false);
        seen.add(claim.taskId);
      }
    }
    expect(seen.size).toBe(50);
    await other.close();
  });

  test("concurrent writes started together on one store each get their own transaction", async () => {
    const { store } = freshStore();
    await store.createRun(plan(...Array.from({ length: 10 }, (_, i) => [`t${i}`] as [string])));
    const claimed = (await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimTasks(`w${i}`, 1, 10_000)))).flat();
    expect(new Set(claimed.map((c) => c.taskId)).size).toBe(10);
    await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, null)));
    expect(store.db.inTransaction).toBe(false);
  });

  test("many concurrent writes of one process wait out another process's lock without nesting transactions", async () => {
    const { store, path } = freshStore();
    await store.createRun(plan(...Array.from({ length: 30 }, (_, i) => [`t${i}`] as [string])));
    const { Database } = await import("bun:sqlite");
    const other = new Database(path);
    other.run("BEGIN IMMEDIATE"); // another process holds the write lock
    const claims = Promise.all(Array.from({ length: 30 }, (_, i) => store.claimTasks(`w${i}`, 1, 10_000)));
    await Bun.sleep(30); // the other process holds the lock a while (simulated work)
    other.run("COMMIT");
    other.close();
    const claimed = (await claims).flat();
    expect(claimed).toHaveLength(30);
    expect(new Set(claimed.map((c) => c.taskId)).size).toBe(30);
  });

  test("only the workflows a worker knows are claimed when it says so", async () => {
    const { store } = freshStore();
    await store.createRun({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "shell" }, { id: "b", title: "b", workflow: "agent" }] });
    expect((await store.claimTasks("w", 5, 1_000, { workflows: ["agent"] })).map((c) => c.key)).toEqual(["b"]);
  });
});

describe("leases and fencing", () => {
  test("a heartbeat extends the lease so the task is not reclaimed", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [claim] = await store.claimTasks("w1", 1, 1_000);
    clock.advance(900);
    expect(await store.extendLease(claim!.taskId, claim!.attemptId, 1_000)).toBe(clock.now() + 1_000);
    clock.advance(900);
    expect(await store.claimTasks("w2", 1, 1_000)).toEqual([]);
    await store.completeTask(claim!.taskId, claim!.attemptId, "done");
  });

  test("an expired lease is reclaimed: the attempt is recorded as crashed and a new attempt gets the task", async () => {
    const { store, clock } = freshStore();
    const run = await store.createRun(plan(["a"]));
    const [first] = await store.claimTasks("w1", 1, 1_000);
    clock.advance(1_001);
    const [second] = await store.claimTasks("w2", 1, 1_000);
    expect(second!.taskId).toBe(first!.taskId);
    expect(second!.attempt).toBe(2);
    expect(second!.attemptId).toBeGreaterThan(first!.attemptId);
    const attempts = await store.listAttempts(first!.taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["w1", "crashed"], ["w2", "running"]]);
    expect(attempts[0]!.error?.code).toBe("lease_expired");
    const types = (await store.listEvents({ runId: run.id })).map((e) => e.type);
    expect(types).toEqual(["run.created", "task.started", "task.lease_expired", "task.started"]);
  });

  test("a stale attempt cannot heartbeat, journal, complete, fail, suspend or release after its lease was reclaimed", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [stale] = await store.claimTasks("w1", 1, 1_000);
    clock.advance(2_000);
    const [fresh] = await store.claimTasks("w2", 1, 1_000);
    const { taskId, attemptId } = stale!;
    const step = { key: "s", seq: 1, kind: "step", status: "completed" as const, input: null, output: 1, error: null, startedAt: 0, endedAt: 0 };
    expect(await rejected(store.extendLease(taskId, attemptId, 1_000))).toBeInstanceOf(LeaseLostError);
    expect(await rejected(store.recordStep(taskId, attemptId, step))).toBeInstanceOf(LeaseLostError);
    expect(await rejected(store.completeTask(taskId, attemptId, "stale"))).toBeInstanceOf(LeaseLostError);
    expect(await rejected(store.failTask(taskId, attemptId, { message: "x" }))).toBeInstanceOf(LeaseLostError);
    expect(await rejected(store.suspendTask(taskId, attemptId, { reason: "sleep" }))).toBeInstanceOf(LeaseLostError);
    expect((await rejected(store.releaseTask(taskId, attemptId))).message).toContain("attempt 1 no longer holds the lease on task 1");
    expect(await store.listSteps(taskId)).toEqual([]);
    await store.completeTask(fresh!.taskId, fresh!.attemptId, "fresh");
    const task = await store.getTask(taskId);
    expect(task).toMatchObject({ state: "succeeded", output: "fresh", attempts: 2, crashes: 1 });
  });

  test("a task that crashes its drone more often than the recovery limit fails with recovery_limit and skips its dependents", async () => {
    const { store, clock } = freshStore({ recoveryLimit: 2 });
    const run = await store.createRun(plan(["a"], ["b", "a"]));
    for (let i = 0; i < 3; i++) {
      expect(await store.claimTasks(`w${i}`, 1, 1_000)).toHaveLength(1);
      clock.advance(1_001);
    }
    expect(await store.claimTasks("w9", 1, 1_000)).toEqual([]);
    const [a, b] = await store.listTasks(run.id);
    expect(a).toMatchObject({ state: "failed", failReason: "recovery_limit", crashes: 3 });
    expect(a!.error?.message).toContain("crashed its drone 3 times (recovery limit 2)");
    expect(b!.state).toBe("skipped");
    expect((await store.getRun(run.id)).state).toBe("failed");
  });

  test("reclaiming is bounded per claim so one claim never does unbounded work", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(...Array.from({ length: 40 }, (_, i) => [`t${i}`] as [string])));
    expect(await store.claimTasks("w1", 40, 1_000)).toHaveLength(40);
    clock.advance(1_001);
    await store.claimTasks("w2", 0, 1_000);
    const crashed = () => store.db.query<{ n: number }, []>("SELECT count(*) AS n FROM attempts WHERE state = 'crashed'").get()!.n;
    expect(crashed()).toBe(32);
    await store.claimTasks("w2", 0, 1_000);
    expect(crashed()).toBe(40);
  });
});

describe("completing and failing", () => {
  test("completing a task unblocks its dependents in the same transaction and the run succeeds with its last task", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["b", "a"], ["c", "a"], ["d", "b", "c"]));
    const [a] = await store.claimTasks("w", 5, 1_000);
    expect(await store.completeTask(a!.taskId, a!.attemptId, { built: true })).toEqual({ unblocked: 2, runState: "running" });
    const wave2 = await store.claimTasks("w", 5, 1_000);
    expect(wave2.map((c) => c.key)).toEqual(["b", "c"]);
    expect(await store.completeTask(wave2[0]!.taskId, wave2[0]!.attemptId, 1)).toEqual({ unblocked: 0, runState: "running" });
    expect((await store.findTask(run.id, "d")).pendingDeps).toBe(1);
    expect(await store.completeTask(wave2[1]!.taskId, wave2[1]!.attemptId, 2)).toEqual({ unblocked: 1, runState: "running" });
    const [d] = await store.claimTasks("w", 5, 1_000);
    expect(await store.completeTask(d!.taskId, d!.attemptId, null)).toEqual({ unblocked: 0, runState: "succeeded" });
    const finished = await store.getRun(run.id);
    expect(finished).toMatchObject({ state: "succeeded", tasksOpen: 0, tasksFailed: 0 });
    expect(finished.finishedAt).not.toBeNull();
    expect((await store.findTask(run.id, "a")).output).toEqual({ built: true });
    const events = (await store.listEvents({ runId: run.id })).map((e) => e.type);
    expect(events.filter((t) => t === "task.succeeded")).toHaveLength(4);
    expect(events.at(-1)).toBe("run.succeeded");
  });

  test("completing twice is refused: the second call no longer holds the lease", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.completeTask(a!.taskId, a!.attemptId, 1);
    expect(await rejected(store.completeTask(a!.taskId, a!.attemptId, 2))).toBeInstanceOf(LeaseLostError);
    expect((await store.getTask(a!.taskId)).output).toBe(1);
  });

  test("a failure with attempts left goes back to ready after an exponential, jittered backoff", async () => {
    const { store, clock } = freshStore({ backoff: { baseMs: 1_000, maxMs: 60_000 }, random: () => 0 });
    await store.createRun({ goal: "g", tasks: [{ id: "flaky", title: "flaky", workflow: "noop", retries: 2 }] });
    const [first] = await store.claimTasks("w", 1, 10_000);
    const result = await store.failTask(first!.taskId, first!.attemptId, { message: "boom", code: "E_BOOM" });
    expect(result).toEqual({ state: "ready", availableAt: clock.now() + 500, skipped: 0, runState: "running" });
    expect(await store.claimTasks("w", 1, 10_000)).toEqual([]);
    clock.advance(500);
    const [second] = await store.claimTasks("w", 1, 10_000);
    expect(second!.attempt).toBe(2);
    const again = await store.failTask(second!.taskId, second!.attemptId, { message: "boom again" });
    expect(again.availableAt).toBe(clock.now() + 1_000); // doubled
    const task = await store.getTask(first!.taskId);
    expect(task).toMatchObject({ state: "ready", failures: 2, error: { message: "boom again" } });
  });

  test("without attempts left the task fails and every task downstream is skipped; parallel branches still finish", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["side"], ["b", "a"], ["c", "b"], ["d", "c", "side"]));
    const first = await store.claimTasks("w", 5, 1_000);
    const a = first.find((c) => c.key === "a")!;
    const side = first.find((c) => c.key === "side")!;
    const result = await store.failTask(a.taskId, a.attemptId, { message: "compile error" });
    expect(result).toEqual({ state: "failed", availableAt: null, skipped: 3, runState: "running" });
    expect(await states(store, run.id)).toEqual({ a: "failed", side: "running", b: "skipped", c: "skipped", d: "skipped" });
    expect((await store.findTask(run.id, "a")).failReason).toBe("error");
    expect(await store.completeTask(side.taskId, side.attemptId, "ok")).toEqual({ unblocked: 0, runState: "failed" });
    expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksOpen: 0, tasksFailed: 4 });
  });

  test("a non-retryable error fails at once even with retries left", async () => {
    const { store } = freshStore();
    await store.createRun({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", retries: 5 }] });
    const [a] = await store.claimTasks("w", 1, 1_000);
    const result = await store.failTask(a!.taskId, a!.attemptId, { message: "bad input" }, { retryable: false });
    expect(result.state).toBe("failed");
    expect((await store.getTask(a!.taskId)).failReason).toBe("non_retryable");
  });
});

describe("waiting, releasing and cancelling", () => {
  test("a suspended task releases its lease and wakes up when its time has come", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.suspendTask(a!.taskId, a!.attemptId, { until: clock.now() + 60_000, reason: "sleep" });
    expect((await store.getTask(a!.taskId)).state).toBe("waiting");
    expect((await store.listAttempts(a!.taskId))[0]!.state).toBe("suspended");
    clock.advance(59_999);
    expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
    clock.advance(1);
    const [again] = await store.claimTasks("w", 1, 1_000);
    expect(again).toMatchObject({ taskId: a!.taskId, attempt: 2 });
  });

  test("a task suspended without a time stays waiting however much time passes", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.suspendTask(a!.taskId, a!.attemptId, { reason: "gate" });
    clock.advance(365 * 86_400_000);
    expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
  });

  test("a released task is ready at once and the release counts neither as a failure nor as a crash", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.releaseTask(a!.taskId, a!.attemptId);
    const [again] = await store.claimTasks("w2", 1, 1_000);
    expect(again!.attempt).toBe(2);
    expect(await store.getTask(a!.taskId)).toMatchObject({ failures: 0, crashes: 0, state: "running" });
  });

  test("cancelling a run cancels its open tasks; a running task sees it at its next guarded write", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"], ["b"], ["c", "a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    const cancelled = await store.cancelRun(run.id, { actor: "alice", reason: "wrong goal" });
    expect(cancelled).toMatchObject({ state: "cancelled", tasksOpen: 0 });
    expect(await states(store, run.id)).toEqual({ a: "cancelled", b: "cancelled", c: "cancelled" });
    expect(await rejected(store.completeTask(a!.taskId, a!.attemptId, 1))).toBeInstanceOf(LeaseLostError);
    expect((await store.listAttempts(a!.taskId))[0]!.state).toBe("cancelled");
    expect(await store.claimTasks("w", 5, 1_000)).toEqual([]);
    const last = (await store.listEvents({ runId: run.id })).at(-1)!;
    expect(last).toMatchObject({ type: "run.cancelled", actor: "alice", data: { cancelledTasks: 3, reason: "wrong goal" } });
    expect((await store.cancelRun(run.id)).state).toBe("cancelled"); // twice is harmless
  });

  test("a finished run cannot be cancelled", async () => {
    const { store } = freshStore();
    const run = await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.completeTask(a!.taskId, a!.attemptId, 1);
    expect(await rejected(store.cancelRun(run.id))).toBeInstanceOf(InvalidTransitionError);
  });
});

describe("the journal", () => {
  test("steps are recorded under the lease, and a completed step is never overwritten", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    const step = { key: "fetch", seq: 1, kind: "step", status: "completed" as const, input: { url: "x" }, output: { bytes: 3 }, error: null, startedAt: clock.now(), endedAt: clock.now() + 5 };
    clock.advance(900);
    await store.recordStep(a!.taskId, a!.attemptId, step);
    expect(await store.listSteps(a!.taskId)).toEqual([{ taskId: a!.taskId, attemptId: a!.attemptId, ...step, usage: null }]);
    expect((await rejected(store.recordStep(a!.taskId, a!.attemptId, { ...step, output: { bytes: 4 } }))).message).toContain('step "fetch" of task 1 is already recorded');
    expect((await store.listSteps(a!.taskId))[0]!.output).toEqual({ bytes: 3 });
  });
});

describe("events", () => {
  test("every transition appends an event with time, actor, run, task and attempt", async () => {
    const { store, clock } = freshStore();
    const run = await store.createRun({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", retries: 1 }] }, { actor: "cli" });
    const [first] = await store.claimTasks("drone-1", 1, 1_000);
    await store.failTask(first!.taskId, first!.attemptId, { message: "flake" });
    clock.advance(60_000);
    const [second] = await store.claimTasks("drone-2", 1, 1_000);
    await store.completeTask(second!.taskId, second!.attemptId, "ok");
    const events = await store.listEvents({ runId: run.id });
    expect(events.map((e) => [e.type, e.actor, e.attemptId])).toEqual([
      ["run.created", "cli", null],
      ["task.started", "drone-1", first!.attemptId],
      ["task.retry_scheduled", "drone-1", first!.attemptId],
      ["task.started", "drone-2", second!.attemptId],
      ["task.succeeded", "drone-2", second!.attemptId],
      ["run.succeeded", "drone-2", null],
    ]);
    expect(events.every((e, i) => i === 0 || e.id > events[i - 1]!.id)).toBe(true);
    expect(events[3]!.at).toBe(clock.now());
    expect((await store.listEvents({ runId: run.id, afterId: events[3]!.id })).map((e) => e.type)).toEqual(["task.succeeded", "run.succeeded"]);
  });
});
