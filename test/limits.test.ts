/** Size and depth limits: a clear error naming the path, never a RangeError, anywhere a user can reach. */
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/api/app.ts";
import { jsonShape, LIMITS, nestedDeeperThan } from "../src/core/limits.ts";
import { validateWorkplan } from "../src/core/workplan.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { farcaster, withReader } from "./cli-helpers.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { freshDir, freshStore, openTestStore } from "./helpers.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

/** `{"a":{"a":…1…}}` nested `depth` objects deep, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** The same as JSON text, so a test can send it without stringifying (which would overflow). */
function nestedText(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

function planWithInput(input: unknown, at = 0) {
  const tasks = Array.from({ length: at + 1 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "noop", input: i === at ? input : {} }));
  return { goal: "g", tasks };
}

describe("the depth check", () => {
  test("counts containers, allows exactly the limit, and walks 100,000 levels without overflowing", () => {
    expect(nestedDeeperThan(nested(LIMITS.depth))).toBe(false);
    expect(nestedDeeperThan(nested(LIMITS.depth + 1))).toBe(true);
    expect(nestedDeeperThan(nested(100_000))).toBe(true);
    expect(nestedDeeperThan("a string")).toBe(false);
    expect(nestedDeeperThan([[[]]], 2)).toBe(true);
  });
});

describe("workplans", () => {
  test("a task input nested 50,000 levels is a problem named by its path, not a RangeError", () => {
    const result = validateWorkplan(planWithInput(nested(50_000), 3));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues).toEqual([{ path: "tasks[3].input", message: `nested deeper than ${LIMITS.depth} levels` }]);
  });

  test("a task input over its size limit is a problem with its size and the limit", () => {
    const result = validateWorkplan(planWithInput({ text: "x".repeat(LIMITS.taskInputBytes) }));
    expect(!result.ok && result.issues[0]).toMatchObject({ path: "tasks[0].input", message: expect.stringMatching(/^256 KB of JSON, over the limit of 256 KB$/) });
  });

  test("a deep scope, budget or other field is named by its path with the documented limit, not the plan as a whole", () => {
    const tasks = planWithInput({}, 2).tasks.map((task, i) => (i === 2 ? { ...task, scope: { writes: nested(50_000) } } : task));
    const result = validateWorkplan({ goal: "g", budget: nested(LIMITS.depth + 1), tasks: [...tasks, nested(100)] });
    expect(!result.ok && result.issues).toEqual([
      { path: "budget", message: `nested deeper than ${LIMITS.depth} levels` },
      { path: "tasks[2].scope", message: `nested deeper than ${LIMITS.depth} levels` },
      { path: "tasks[3].a", message: `nested deeper than ${LIMITS.depth} levels` },
    ]);
    expect(LIMITS.depth).toBe(64); // the limit README "Limits" documents
  });

  test("an input at the limits is accepted", () => {
    expect(validateWorkplan(planWithInput(nested(LIMITS.depth))).ok).toBe(true);
  });
});

function setup() {
  const { store, clock } = freshStore();
  const app = createApp({ store, registry, cwd: freshDir() });
  const post = (path: string, raw: string) => app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
  return { store, clock, post };
}

describe("over HTTP", () => {
  test("a workplan with a deep task input is 422 naming tasks[0].input, and nothing is written", async () => {
    const s = setup();
    const raw = `{"workplan":{"goal":"g","tasks":[{"id":"a","title":"A","workflow":"noop","input":${nestedText(50_000)}}]}}`;
    const response = await s.post("/v1/runs", raw);
    expect(response.status).toBe(422);
    const body = (await response.json()) as any;
    expect(body.error.code).toBe("plan_invalid");
    expect(body.error.message).toContain(`tasks[0].input: nested deeper than ${LIMITS.depth} levels`);
    expect(await s.store.listRuns()).toHaveLength(0);
  });

  test("a goal text whose JSON plan nests too deep is 422 too, not a 500", async () => {
    const s = setup();
    const goal = "# g\n\n```json\n" + `{"goal":"g","tasks":[{"id":"a","title":"A","workflow":"noop","input":${nestedText(20_000)}}]}` + "\n```\n";
    const response = await s.post("/v1/runs", JSON.stringify({ goal }));
    expect(response.status).toBe(422);
    expect(((await response.json()) as any).error.message).toContain("tasks[0].input: nested deeper than 64 levels");
    expect(await s.store.listRuns()).toHaveLength(0);
  });

  test("event data nested too deep is 422 too_deep; over its size it is 413 too_large; nothing is recorded", async () => {
    const s = setup();
    const deep = await s.post("/v1/events/deploy", `{"data":${nestedText(50_000)}}`);
    expect(deep.status).toBe(422);
    expect(await deep.json()).toEqual({ error: { code: "too_deep", message: `data: nested deeper than ${LIMITS.depth} levels`, details: [{ path: "data", message: `nested deeper than ${LIMITS.depth} levels` }] } });
    const large = await s.post("/v1/events/deploy", JSON.stringify({ data: "x".repeat(LIMITS.eventDataBytes) }));
    expect(large.status).toBe(413);
    expect(((await large.json()) as any).error).toMatchObject({ code: "too_large", message: "data: 256 KB of JSON, over the limit of 256 KB" });
    // The name is still free: the first real emit wins.
    const ok = await s.post("/v1/events/deploy", JSON.stringify({ data: { v: 1 } }));
    expect(ok.status).toBe(201);
  });
});

describe("in a workflow", () => {
  test("a step returning something nested too deep fails its task with step_output_not_json naming the step, not a crash", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("deep-output", async (ctx) => ctx.step("produce", async () => nested(50_000)));
    const { taskId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("failed");
    const task = await store.getTask(taskId);
    expect(task.error!.code).toBe("step_output_not_json");
    expect(task.error!.message).toContain(`the output of step "produce" cannot be journaled as JSON: nested deeper than ${LIMITS.depth} levels`);
  });

  test("a step output over its size limit fails its task with its size and the limit; so does gate evidence", async () => {
    const { store, clock } = freshStore();
    const big = workflow("big-output", async (ctx) => ctx.step("produce", async () => "x".repeat(LIMITS.stepOutputBytes)));
    const { taskId } = await submitOne(store, big);
    expect((await attemptOnce(store, clock, big))!.outcome).toBe("failed");
    expect((await store.getTask(taskId)).error!.message).toContain('the output of step "produce" cannot be journaled as JSON: 4 MB of JSON, over the limit of 4 MB');
    const evidence = workflow("big-evidence", async (ctx) => ctx.approval("ship", { question: "Ship?", evidence: { log: "x".repeat(LIMITS.gateEvidenceBytes) } }));
    const second = await submitOne(store, evidence);
    expect((await attemptOnce(store, clock, evidence))!.outcome).toBe("failed");
    expect((await store.getTask(second.taskId)).error!.message).toContain("over the limit of 1 MB");
    expect(await store.listGates({ pendingOnly: true })).toHaveLength(0);
  });

  test("a task's own output nested too deep fails the task clearly", async () => {
    const { store, clock } = freshStore();
    const wf = workflow("deep-result", async () => nested(50_000));
    const { taskId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("failed");
    expect((await store.getTask(taskId)).error!.message).toContain("nested deeper than 64 levels");
  });
});

describe("through the CLI", () => {
  test("`plan` of a goal file with a deep task input exits 1 naming the path, without a stack trace or a partial plan", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "deep.json"), `{"goal":"g","tasks":[{"id":"a","title":"A","workflow":"noop","input":${nestedText(50_000)}}]}`);
    const { code, stdout, stderr } = await farcaster(["plan", "deep.json"], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain("tasks[0].input: nested deeper than 64 levels");
    expect(stderr + stdout).not.toMatch(/RangeError|unexpected error|    at /);
    expect(stdout).toBe("");
  });

  test("a plan file over a step's limits (5 MB: its output, and its review at the gate) plans and runs: the planning task is held to the workplan's limit", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    // 700 tasks of 7 KB each: the plan is over the 4 MB of a task's output, and its review over the 1 MB of a gate's evidence.
    const tasks = Array.from({ length: 700 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "noop", input: { pad: "x".repeat(7_000) } }));
    writeFileSync(join(dir, "big.json"), JSON.stringify({ goal: "g", tasks }));
    expect(Bun.file(join(dir, "big.json")).size).toBeGreaterThan(LIMITS.stepOutputBytes);
    const { code, stdout, stderr } = await farcaster(["run", "big.json", "--yes", "--db", db], { cwd: dir });
    expect(stderr).not.toContain("over the limit");
    expect(code).toBe(0);
    // The start of the run names a few of a wave's tasks, not all 700 (the plan's review has them all).
    expect(stdout).toContain("run r");
    expect(stdout).toContain(": 700 tasks in 1 waves, from big.json\n  wave 1: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11 and 688 more\n");
    const [run] = await withReader(db, (store) => store.listRuns());
    expect(run).toMatchObject({ state: "succeeded", tasksTotal: 701, tasksFailed: 0 });
    const [gate] = await withReader(db, (store) => store.listGates({ runId: run!.id }));
    expect(gate).toMatchObject({ state: "approved" });
    expect((gate!.evidence as { tasks: unknown[] }).tasks).toHaveLength(700);
  });

  test("`emit --data` nested too deep exits 1 with data: nested deeper than 64 levels, and records nothing", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    await openTestStore(db).close(); // emit writes to a database that exists (it never creates one)
    const { code, stderr } = await farcaster(["emit", "deploy", "--data", nestedText(15_000), "--db", db], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe("farcaster: data: nested deeper than 64 levels [too_deep]");
    expect(await withReader(db, (store) => store.getSignal("deploy"))).toBeNull();
  });
});

describe("jsonShape: what a value is to JSON, before it is journaled", () => {
  test("plain data is plain; too deep or cyclic is deep, even under something JSON would change", () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < LIMITS.depth + 5; i++) cursor.push((cursor = []));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    for (const value of [null, true, 0, -1.5, "s", undefined, [], {}, [1, [2, { a: "b", c: [null, undefined] }]], Object.assign(Object.create(null), { x: 1 })]) {
      expect(jsonShape(value)).toBe("plain");
    }
    expect(jsonShape(deep)).toBe("deep");
    expect(jsonShape(cyclic)).toBe("deep");
    expect(jsonShape({ when: new Date(0), deep })).toBe("deep");
  });

  test("anything JSON.stringify would turn into something else, or refuse, is other", () => {
    class Point { constructor(readonly x: number) {} }
    for (const value of [NaN, Infinity, 10n, () => 1, Symbol("s"), { n: -Infinity }, [1, () => 2], { big: [3n] }, new Date(0), new Map(), new Point(1),
      { toJSON: () => "x" }, Object.assign([1], { toJSON: () => "y" }), [{ when: new Date(0) }], new String("boxed"),
      Object.assign([() => 1], { [Symbol.iterator]: function* () {} })]) { // an iterator hiding an element from a for…of
      expect(jsonShape(value)).toBe("other");
    }
  });
});
