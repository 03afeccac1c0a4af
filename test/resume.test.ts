import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { farcaster, runsOf } from "./cli-helpers.ts";
import { attemptOnce, workflow } from "./engine-helpers.ts";
import { freshDir, freshStore } from "./helpers.ts";

describe("resuming a finished run", () => {
  test("a failed run reopens: the failed task continues after its last successful step, its skipped dependents run", async () => {
    const { store, clock } = freshStore();
    let broken = true;
    const calls: string[] = [];
    const wf = workflow("twostep", async (ctx) => {
      await ctx.step("fetch", async () => calls.push("fetch"));
      await ctx.step("parse", async () => {
        calls.push("parse");
        if (broken && ctx.task.key === "a") throw new Error("parser bug");
        return "parsed";
      });
      return ctx.task.key;
    });
    const { WorkflowRegistry } = await import("../src/engine/registry.ts");
    const { submitPlan } = await import("../src/engine/submit.ts");
    const registry = new WorkflowRegistry().register(wf);
    const { run } = await submitPlan(store, registry, { goal: "g", tasks: [{ id: "a", title: "a", workflow: "twostep" }, { id: "b", title: "b", workflow: "twostep", after: ["a"] }] });
    await attemptOnce(store, clock, wf);
    expect(await store.getRun(run.id)).toMatchObject({ state: "failed" });
    broken = false;
    const { run: reopened, reopened: count } = await store.resumeRun(run.id, { actor: "ops" });
    expect(count).toBe(2);
    expect(reopened).toMatchObject({ state: "running", tasksOpen: 2, tasksFailed: 0, finishedAt: null });
    expect((await store.listTasks(run.id)).map((t) => [t.key, t.state, t.pendingDeps])).toEqual([["a", "ready", 0], ["b", "blocked", 1]]);
    await attemptOnce(store, clock, wf);
    await attemptOnce(store, clock, wf);
    expect((await store.getRun(run.id)).state).toBe("succeeded");
    expect(calls).toEqual(["fetch", "parse", "parse", "fetch", "parse"]); // a's fetch was not repeated
    expect((await store.listEvents({ runId: run.id })).map((e) => e.type)).toContain("run.resumed");
  });

  test("farcaster resume reopens a failed run once the cause is fixed, and exits 0 when it succeeds", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# Needs a file\n\n## check: The file is there\nrun: test -f fixed.txt\n\n## after: After\nafter: check\nrun: echo after > after.txt\n");
    const first = await farcaster(["goal.md"], { cwd: dir });
    expect(first.code).toBe(1);
    const db = join(dir, ".farcaster", "farcaster.db");
    const [run] = await runsOf(db);
    const runId = run!.id;
    writeFileSync(join(dir, "fixed.txt"), "");
    const resumed = await farcaster(["resume", runId], { cwd: dir });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`reopened 2 unfinished task(s) of failed run ${runId}; resuming`);
    expect(resumed.stdout).toMatch(/run r\w+ succeeded/);
  });
});
