import { AttemptAbort } from "../src/engine/attemptAbort.ts";
import { describe, expect, test } from "bun:test";
import { runAttempt } from "../src/engine/attempt.ts";
import { Drone } from "../src/engine/drone.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { SqliteStore } from "../src/store/sqlite/store.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { freshRealTimeStore, freshStore, until } from "./helpers.ts";

async function runState(store: SqliteStore, runId: string) {
  return (await store.getRun(runId)).state;
}

describe("an attempt under its lease", () => {
  test("a lost lease aborts ctx.signal and nothing more is committed for the stale attempt", async () => {
    const { store, clock } = freshStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let aborted = false;
    const wf = workflow("slow", async (ctx) => {
      ctx.signal.addEventListener("abort", () => (aborted = true));
      await ctx.step("first", async () => 1);
      await gate;
      await ctx.step("second", async () => 2);
      return "stale";
    });
    const { taskId } = await submitOne(store, wf);
    const [claimed] = await store.claimTasks("old", 1, 60);
    const attempt = runAttempt({ store, clock, worker: "old", claimed: claimed!, workflow: wf, workflows: new WorkflowRegistry().register(wf), claimLeaseMs: 60, abort: new AttemptAbort() });
    await until(async () => (await store.listSteps(taskId)).length === 1);
    clock.advance(1_000); // the lease has expired; another drone reclaims the task
    const [fresh] = await store.claimTasks("new", 1, 60_000);
    expect(fresh!.taskId).toBe(taskId);
    await until(() => aborted); // the heartbeat found out
    release();
    expect((await attempt).outcome).toBe("lost");
    expect((await store.listSteps(taskId)).map((s) => s.key)).toEqual(["first"]);
    expect((await store.getTask(taskId)).attemptId).toBe(fresh!.attemptId);
  });

  test("a timeout aborts the attempt even when the workflow ignores its signal, and is its own outcome", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("stuck", async () => new Promise(() => {}));
    const { runId, taskId } = await submitOne(store, wf, { timeout: 50 });
    const result = await attemptOnce(store, clock, wf);
    expect(result!.outcome).toBe("failed");
    const task = await store.getTask(taskId);
    expect(task).toMatchObject({ state: "failed", failReason: "timeout", error: { code: "timeout" } });
    expect(task.error!.message).toBe(`task ${runId}/t timed out after 50 ms`);
  });

  test("a timed-out attempt with retries left is retried", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("stuck-once", async () => new Promise(() => {}));
    const { taskId } = await submitOne(store, wf, { timeout: 20, retries: 1 });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("retrying");
    expect((await store.getTask(taskId)).state).toBe("ready");
  });
});

describe("the drone", () => {
  test("runs a DAG to the end, picking up unblocked tasks at once rather than at its next poll", async () => {
    const { store } = freshRealTimeStore();
    const order: string[] = [];
    const wf = workflow("record", async (ctx) => {
      await ctx.step("work", async () => order.push(ctx.task.key));
      return ctx.task.key;
    });
    const registry = new WorkflowRegistry().register(wf);
    const chain = Array.from({ length: 8 }, (_, i) => ({ id: `c${i}`, title: "c", workflow: "record", input: {}, after: i === 0 ? [] : [`c${i - 1}`] }));
    const { run } = await submitPlan(store, registry, { goal: "chain", tasks: chain });
    // Polls every 5 s: eight dependent tasks would need 35 s if each waited for a poll.
    const drone = new Drone({ store, registry, concurrency: 2, maxIdleMs: 5_000 }).start();
    const started = Date.now();
    await until(async () => (await runState(store, run.id)) === "succeeded", 4_000);
    expect(Date.now() - started).toBeLessThan(4_000);
    await drone.stop();
    expect(order).toEqual(chain.map((t) => t.id));
  });

  test("a saturated drone still lets timers run: heartbeats keep short leases, nothing is reclaimed from under it", async () => {
    const { store } = freshRealTimeStore();
    const wf = workflow("fast", async (ctx) => ctx.step("one", async () => 1));
    const registry = new WorkflowRegistry().register(wf);
    const tasks = Array.from({ length: 1_500 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "fast", input: {}, after: i >= 8 ? [`t${i - 8}`] : [] }));
    const { run } = await submitPlan(store, registry, { goal: "g", tasks });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const drone = new Drone({ store, registry, concurrency: 8, leaseMs: 300, forceLease: true }).start();
    const started = Date.now();
    await until(async () => (await runState(store, run.id)) !== "running", 60_000);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    await drone.stop();
    expect((await store.getRun(run.id)).state).toBe("succeeded");
    expect(ticks).toBeGreaterThan(elapsed / 10 / 4); // the 10 ms timer ran at least a quarter of the time
    expect((await store.listTasks(run.id)).filter((task) => task.crashes > 0)).toEqual([]);
  });

  test("a drone whose store is closed under it stops claiming, saying so once, instead of spinning; stop() still resolves", async () => {
    const { store } = freshRealTimeStore();
    const registry = new WorkflowRegistry().register(workflow("idle", async () => null));
    const errors: string[] = [];
    let dueReads = 0;
    const counting = new Proxy(store, {
      get(target, name) {
        if (name === "nextDueAt") dueReads++;
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const drone = new Drone({ store: counting, registry, maxIdleMs: 20, onEvent: (event) => void (event.type === "error" && errors.push(event.message)) }).start();
    await until(() => dueReads > 0, 5_000, "the drone to go idle");
    await store.close();
    await until(() => errors.length > 0, 5_000, "the drone to say it stops");
    const reads = dueReads;
    await drone.stop();
    expect(errors).toEqual(["the store was closed: this drone stops claiming"]);
    expect(dueReads).toBe(reads);
  });

  test("retries a failing task with its workflow's backoff until it succeeds", async () => {
    const { store } = freshRealTimeStore();
    let calls = 0;
    const wf = workflow("flaky", async () => {
      if (++calls < 3) throw new Error(`flake ${calls}`);
      return "ok";
    }, { backoff: { baseMs: 5, maxMs: 20 } });
    const registry = new WorkflowRegistry().register(wf);
    const { run } = await submitPlan(store, registry, { goal: "g", tasks: [{ id: "f", title: "f", workflow: "flaky", input: {}, retries: 2 }] });
    const drone = new Drone({ store, registry, maxIdleMs: 10 }).start();
    await until(async () => (await runState(store, run.id)) !== "running");
    await drone.stop();
    const task = await store.findTask(run.id, "f");
    expect(task).toMatchObject({ state: "succeeded", attempts: 3, failures: 2, output: "ok" });
    expect((await store.listAttempts(task.id)).map((a) => a.state)).toEqual(["failed", "failed", "succeeded"]);
  });

  test("never runs more tasks of a workflow at once than its concurrency limit", async () => {
    const { store } = freshRealTimeStore();
    let active = 0;
    let peak = 0;
    const wf = workflow("limited", async () => {
      peak = Math.max(peak, ++active);
      await Bun.sleep(15);
      active--;
      return null;
    }, { concurrency: 2 });
    const registry = new WorkflowRegistry().register(wf);
    const tasks = Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "limited", input: {} }));
    const { run } = await submitPlan(store, registry, { goal: "g", tasks });
    const drone = new Drone({ store, registry, concurrency: 8, maxIdleMs: 5 }).start();
    await until(async () => (await runState(store, run.id)) === "succeeded");
    await drone.stop();
    expect(peak).toBe(2);
  });

  test("stopping lets running tasks finish within the grace period and releases the rest at once", async () => {
    const { store } = freshRealTimeStore();
    const quick = workflow("quick", async () => {
      await Bun.sleep(20);
      return "finished in grace";
    });
    const endless = workflow("endless", async (ctx) => {
      await ctx.step("begin", async () => "began");
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      return "never";
    });
    const registry = new WorkflowRegistry().register(quick).register(endless);
    const { run } = await submitPlan(store, registry, {
      goal: "g",
      tasks: [{ id: "q", title: "q", workflow: "quick", input: {} }, { id: "e", title: "e", workflow: "endless", input: {} }],
    });
    const drone = new Drone({ store, registry, concurrency: 2 }).start();
    await until(async () => (await store.listTasks(run.id)).every((t) => t.state === "running"));
    await until(async () => (await store.listSteps((await store.findTask(run.id, "e")).id)).length === 1);
    await drone.stop(300);
    const q = await store.findTask(run.id, "q");
    const e = await store.findTask(run.id, "e");
    expect(q.state).toBe("succeeded");
    expect(e).toMatchObject({ state: "ready", failures: 0, crashes: 0, attemptId: null });
    expect((await store.listAttempts(e.id)).map((a) => a.state)).toEqual(["released"]);
    // Another drone takes it at once, without waiting for a lease to expire.
    expect((await store.claimTasks("next", 5, 1_000)).map((c) => c.key)).toEqual(["e"]);
  });

  test("a cancelled run's running task sees ctx.signal abort and commits nothing more", async () => {
    const { store } = freshRealTimeStore();
    let sawAbort = false;
    const wf = workflow("cancellable", async (ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      sawAbort = true;
      return "late";
    }, { leaseMs: 60 });
    const registry = new WorkflowRegistry().register(wf);
    const { run } = await submitPlan(store, registry, { goal: "g", tasks: [{ id: "c", title: "c", workflow: "cancellable", input: {} }] });
    const drone = new Drone({ store, registry, leaseMs: 60 }).start();
    await until(async () => (await store.findTask(run.id, "c")).state === "running");
    await store.cancelRun(run.id);
    await until(() => sawAbort, 2_000);
    await drone.stop();
    const task = await store.findTask(run.id, "c");
    expect(task).toMatchObject({ state: "cancelled", output: null });
  });
});
