import { describe, expect, test } from "bun:test";
import { NonRetryableError } from "../src/core/errors.ts";
import { toJournalValue } from "../src/engine/stepContext.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { freshStore } from "./helpers.ts";

describe("journaled steps", () => {
  test("a retry replays completed steps without running them and re-runs the step that failed", async () => {
    const { store, clock } = freshStore({ backoff: { baseMs: 10, maxMs: 10 } });
    const runs: string[] = [];
    let failNext = true;
    const wf = workflow("three", async (ctx) => {
      const a = await ctx.step("fetch", async () => (runs.push("fetch"), { pages: 3 }));
      const b = await ctx.step("render", async () => {
        runs.push("render");
        if (failNext) {
          failNext = false;
          throw new Error("renderer crashed");
        }
        return a.pages * 2;
      });
      const c = await ctx.step("publish", async () => (runs.push("publish"), `published ${b}`));
      return { a, b, c };
    });
    const { taskId } = await submitOne(store, wf, { retries: 1 });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("retrying");
    clock.advance(10);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect(runs).toEqual(["fetch", "render", "render", "publish"]);
    const task = await store.getTask(taskId);
    expect(task.output).toEqual({ a: { pages: 3 }, b: 6, c: "published 6" });
    const steps = await store.listSteps(taskId);
    expect(steps.map((s) => [s.seq, s.key, s.kind, s.status])).toEqual([
      [1, "fetch", "step", "completed"],
      [2, "render", "step", "completed"],
      [3, "publish", "step", "completed"],
    ]);
    const attempts = await store.listAttempts(taskId);
    expect(steps[0]!.attemptId).toBe(attempts[0]!.id);
    expect(steps[1]!.attemptId).toBe(attempts[1]!.id);
  });

  test("repeated step names get keys name, name#2, name#3 and declared inputs are journaled", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("loop", async (ctx) => {
      const out: number[] = [];
      for (const n of [1, 2, 3]) out.push(await ctx.step("square", { n }, async ({ n }) => n * n));
      return out;
    });
    const { taskId } = await submitOne(store, wf);
    await attemptOnce(store, clock, wf);
    const steps = await store.listSteps(taskId);
    expect(steps.map((s) => [s.key, s.input, s.output])).toEqual([
      ["square", { n: 1 }, 1],
      ["square#2", { n: 2 }, 4],
      ["square#3", { n: 3 }, 9],
    ]);
    expect((await store.getTask(taskId)).output).toEqual([1, 4, 9]);
  });

  test("now, random and uuid are journaled, so a replay sees the same values", async () => {
    const { store, clock } = freshStore({ backoff: { baseMs: 1, maxMs: 1 } });
    const seen: unknown[] = [];
    let attempt = 0;
    const wf = workflow("values", async (ctx) => {
      const values = { now: await ctx.now(), random: await ctx.random(), uuid: await ctx.uuid() };
      seen.push(values);
      if (++attempt === 1) throw new Error("fail after journaling");
      return values;
    });
    await submitOne(store, wf, { retries: 1 });
    await attemptOnce(store, clock, wf);
    clock.advance(60_000);
    await attemptOnce(store, clock, wf);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect((seen[0] as { now: number }).now).toBe(clock.now() - 60_000);
  });

  test("a step recorded as one kind and requested as another fails the task with NonDeterminismError, without retry", async () => {
    const { store, clock } = freshStore({ backoff: { baseMs: 1, maxMs: 1 } });
    let version = 1;
    const wf = workflow("changing", async (ctx) => {
      if (version === 1) await ctx.step("wait", async () => "done");
      else await ctx.sleep("wait", 1_000);
      throw new Error("first version fails after its step");
    });
    const { taskId } = await submitOne(store, wf, { retries: 3 });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("retrying");
    version = 2;
    clock.advance(1);
    const result = await attemptOnce(store, clock, wf);
    expect(result!.outcome).toBe("failed");
    const task = await store.getTask(taskId);
    expect(task.error).toMatchObject({ code: "non_determinism" });
    expect(task.error!.message).toContain('step "wait" was recorded as step but the workflow now asks for sleep there');
    expect(task.failReason).toBe("non_retryable");
  });

  test("a step output that cannot be stored as JSON fails clearly at that step, without retry", async () => {
    const { store, clock } = freshStore();
    for (const [name, value, problem] of [
      ["fn", { handler: () => 1 }, "it contains a function"],
      ["big", { n: 10n }, "it contains a BigInt"],
      ["inf", [Infinity], "it contains the number Infinity"],
      ["nan", NaN, "it contains the number NaN"],
      ["minus-inf", -Infinity, "it contains the number -Infinity"],
      ["getter", { get boom() { throw new Error("this field cannot be read"); } }, "this field cannot be read"],
    ] as const) {
      const wf = workflow(`bad-${name}`, async (ctx) => ctx.step("produce", async () => value));
      const { taskId } = await submitOne(store, wf, { retries: 2 });
      expect((await attemptOnce(store, clock, wf))!.outcome).toBe("failed");
      const task = await store.getTask(taskId);
      expect(task.error!.code).toBe("step_output_not_json");
      expect(task.error!.message).toContain(`the output of step "produce" cannot be journaled as JSON: ${problem}`);
    }
  });

  test("a null, boolean or number output is what JSON would give back (-0 as 0), without the round trip", () => {
    for (const value of [null, true, false, 0, -0, 1.5, -7, Number.MAX_SAFE_INTEGER, 1e300, 5e-324]) {
      expect(Object.is(toJournalValue(value, "run/task", "k"), JSON.parse(JSON.stringify(value)))).toBe(true);
    }
    expect(toJournalValue(undefined, "run/task", "k")).toBeNull();
  });

  test("an object output is what JSON gives back: plain data as it is, a Date as its text, a class instance as its fields, undefined fields dropped", () => {
    class Point { constructor(readonly x: number, readonly y: number) {} }
    for (const value of [{ a: 1, b: [true, null, "s"], c: undefined }, [undefined, 1], { when: new Date(0) }, new Point(1, 2), { m: new Map([[1, 2]]) }, { toJSON: () => ({ as: "json" }) }]) {
      expect(toJournalValue(value, "run/task", "k")).toEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  test("a step's error is journaled; a NonRetryableError fails the task at once", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("refuses", async (ctx) => ctx.step("validate", async () => { throw new NonRetryableError("the input names no repository"); }));
    const { taskId } = await submitOne(store, wf, { retries: 5 });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("failed");
    expect((await store.getTask(taskId)).failReason).toBe("non_retryable");
    const [step] = await store.listSteps(taskId);
    expect(step).toMatchObject({ key: "validate", status: "failed", error: { message: "the input names no repository", code: "non_retryable" } });
  });

  test("a durable sleep releases the lease, and the task resumes after the sleep once its time has come", async () => {
    const { store, clock } = freshStore();
    const runs: string[] = [];
    const wf = workflow("sleeper", async (ctx) => {
      await ctx.step("before", async () => runs.push("before"));
      await ctx.sleep("cool-down", 60_000);
      await ctx.step("after", async () => runs.push("after"));
      return "woke";
    });
    const { taskId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("suspended");
    const waiting = await store.getTask(taskId);
    expect(waiting).toMatchObject({ state: "waiting", attemptId: null, availableAt: clock.now() + 60_000 });
    expect((await store.listSteps(taskId)).map((s) => [s.key, s.status])).toEqual([["before", "completed"], ["cool-down", "waiting"]]);
    clock.advance(59_999);
    expect(await attemptOnce(store, clock, wf)).toBeNull();
    clock.advance(1);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect(runs).toEqual(["before", "after"]);
    expect((await store.listSteps(taskId)).map((s) => [s.key, s.status])).toEqual([["before", "completed"], ["cool-down", "completed"], ["after", "completed"]]);
  });

  test("a workflow sees its dependencies' outputs by task id, and idempotency keys are stable across attempts", async () => {
    const { store, clock } = freshStore({ backoff: { baseMs: 1, maxMs: 1 } });
    const keys: string[] = [];
    const producer = workflow("producer", async (_ctx, input) => ({ made: input.n }));
    const consumer = workflow("consumer", async (ctx) => {
      keys.push(ctx.idempotencyKey("charge"));
      if (keys.length === 1) throw new Error("transient");
      return ctx.deps;
    });
    const { WorkflowRegistry } = await import("../src/engine/registry.ts");
    const { submitPlan } = await import("../src/engine/submit.ts");
    const registry = new WorkflowRegistry().register(producer).register(consumer);
    const { run } = await submitPlan(store, registry, {
      goal: "g",
      tasks: [
        { id: "left", title: "l", workflow: "producer", input: { n: 1 } },
        { id: "right", title: "r", workflow: "producer", input: { n: 2 } },
        { id: "join", title: "j", workflow: "consumer", input: {}, after: ["left", "right"], retries: 1 },
      ],
    });
    await attemptOnce(store, clock, producer);
    await attemptOnce(store, clock, producer);
    await attemptOnce(store, clock, consumer);
    clock.advance(1);
    await attemptOnce(store, clock, consumer);
    expect((await store.findTask(run.id, "join")).output).toEqual({ left: { made: 1 }, right: { made: 2 } });
    expect(keys).toEqual([`${run.id}/join/charge`, `${run.id}/join/charge`]);
  });
});
