/** Creating runs from workplans, reading them back, idempotency keys, and what is not there. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { IdempotencyKeyReusedError, NotFoundError, PlanInvalidError } from "../../src/core/errors.ts";
import type { OpenDb } from "./harness.ts";
import { claimKey, claimOne, plan, tasks } from "./support.ts";

export function runContract(open: OpenDb): void {
  describe("creating and reading runs", () => {
    test("a run from a workplan is running with all its tasks: those without dependencies ready, the others blocked with their count of pending dependencies", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b", "a"], ["c", "a"], ["d", "b", "c"]), { source: "plan.json", cwd: "/work/site" });
      expect(run).toEqual({
        id: expect.any(String), goal: "test goal", state: "running", source: "plan.json", sourceHash: null, cwd: "/work/site", idempotencyKey: null, requestHash: null,
        tasksTotal: 4, tasksOpen: 4, tasksFailed: 0, createdAt: clock.now(), updatedAt: clock.now(), finishedAt: null,
      });
      expect(await store.getRun(run.id)).toEqual(run);
      const listed = await store.listTasks(run.id);
      expect(listed.map((t) => [t.key, t.state, t.pendingDeps, t.after])).toEqual([
        ["a", "ready", 0, []],
        ["b", "blocked", 1, ["a"]],
        ["c", "blocked", 1, ["a"]],
        ["d", "blocked", 2, ["b", "c"]],
      ]);
      expect(listed[0]).toMatchObject({
        runId: run.id, title: "task a", description: null, workflow: "noop", input: {}, scope: null, priority: 0, maxAttempts: 1, timeoutMs: null,
        attempts: 0, failures: 0, crashes: 0, availableAt: clock.now(), attemptId: null, leaseOwner: null, leaseExpiresAt: null,
        output: null, error: null, failReason: null, createdAt: clock.now(), startedAt: null, finishedAt: null, feedback: [],
      });
      expect(new Set(listed.map((t) => t.id)).size).toBe(4);
      for (const task of listed) {
        expect(await store.getTask(task.id)).toEqual(task);
        expect(await store.findTask(run.id, task.key)).toEqual(task);
        expect(await store.listAttempts(task.id)).toEqual([]);
        expect(await store.listSteps(task.id)).toEqual([]);
      }
    });

    test("a plan of 300 tasks, its edges pointing forward and back across the plan: task ids follow the plan's order, every edge and count in place", async () => {
      const { store } = await open();
      // t_i waits for t_{i+150} (listed later) when i < 100, and for t_{i-1} when i >= 200: edges across any cut of 128.
      const entries = Array.from({ length: 300 }, (_, i): [string, ...string[]] => [`t${i}`, ...(i < 100 ? [`t${i + 150}`] : i >= 200 ? [`t${i - 1}`] : [])]);
      const run = await store.createRun(plan(...entries));
      const listed = await store.listTasks(run.id); // in id order
      expect(listed.map((t) => t.key)).toEqual(entries.map(([key]) => key));
      expect(listed.map((t) => [t.key, t.state, t.pendingDeps, t.after])).toEqual(
        entries.map(([key, ...after]) => [key, after.length === 0 ? "ready" : "blocked", after.length, after]),
      );
      expect(await store.dependencyOutputs(listed[250]!.id)).toEqual({ t249: null });
      expect(await store.dependencyOutputs(listed[99]!.id)).toEqual({ t249: null });
    });

    test("a task keeps what its workplan said: title, description, workflow, input, scope, priority, retries as maxAttempts and its timeout in milliseconds", async () => {
      const { store } = await open();
      const run = await store.createRun(
        tasks({
          id: "build", title: "Build the site", description: "Done when dist/ exists.", workflow: "shell", input: { command: "make" },
          scope: { writes: ["dist/**"], commands: ["make"] }, priority: 7, retries: 2, timeout: "5m",
        }),
      );
      expect(await store.findTask(run.id, "build")).toMatchObject({
        title: "Build the site", description: "Done when dist/ exists.", workflow: "shell", input: { command: "make" },
        scope: { writes: ["dist/**"], commands: ["make"] }, priority: 7, maxAttempts: 3, timeoutMs: 300_000,
      });
    });

    test("an invalid plan is refused with PlanInvalidError naming the cycle, and nothing is written", async () => {
      const { store } = await open();
      const creating = store.createRun(plan(["a", "c"], ["b", "a"], ["c", "b"]));
      expect(await rejected(creating)).toBeInstanceOf(PlanInvalidError);
      expect((await rejected(creating)).message).toContain("dependency cycle: a -> b -> c -> a");
      expect(await store.listRuns()).toEqual([]);
      expect(await store.listEvents()).toEqual([]);
    });

    test("a task input that cannot be stored fails the whole run: no run and no event is left", async () => {
      const { store } = await open();
      const bad = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }, { id: "b", title: "B", workflow: "noop", input: { n: 10n } }] };
      expect(await rejected(store.createRun(bad))).toBeInstanceOf(Error);
      expect(await store.listRuns()).toEqual([]);
      expect(await store.listEvents()).toEqual([]);
    });

    test("the same idempotency key returns the first run, whatever plan comes with it, and listRuns finds the run by its key", async () => {
      const { store } = await open();
      const first = await store.createRun(plan(["a"]), { idempotencyKey: "nightly-2026-11-25" });
      const second = await store.createRun(plan(["x"], ["y"]), { idempotencyKey: "nightly-2026-11-25" });
      expect(second).toEqual(first);
      expect(first.idempotencyKey).toBe("nightly-2026-11-25");
      expect((await store.listTasks(first.id)).map((t) => t.key)).toEqual(["a"]);
      expect(await store.listRuns()).toHaveLength(1);
      expect(await store.listRuns({ idempotencyKey: "nightly-2026-11-25" })).toEqual([first]);
      expect(await store.listRuns({ idempotencyKey: "nightly-2026-11-26" })).toEqual([]);
      expect((await store.listEvents()).filter((e) => e.type === "run.created")).toHaveLength(1);
    });

    test("the same idempotency key returns the first planning run, and one key names one run however it was created", async () => {
      const { store } = await open();
      const first = await store.createPlanningRun("write a haiku", { goal: "write a haiku" }, { idempotencyKey: "haiku" });
      expect(await store.createPlanningRun("another goal", {}, { idempotencyKey: "haiku" })).toEqual(first);
      expect(await store.createRun(plan(["a"]), { idempotencyKey: "haiku" })).toEqual(first);
      expect(await store.listRuns()).toEqual([first]);
      expect((await store.listTasks(first.id)).map((t) => t.key)).toEqual(["@plan"]);
    });

    test("a key that came with a request hash names its run only for the same hash: another is IdempotencyKeyReusedError and creates nothing; no hash (a schedule's key) matches any", async () => {
      const { store } = await open();
      const first = await store.createPlanningRun("write a haiku", { goal: "write a haiku" }, { idempotencyKey: "haiku", requestHash: "h1" });
      expect(first.requestHash).toBe("h1");
      expect(await store.createPlanningRunOnce("write a haiku", {}, { idempotencyKey: "haiku", requestHash: "h1" })).toEqual({ run: first, created: false });
      for (const attempt of [
        store.createPlanningRunOnce("another goal", {}, { idempotencyKey: "haiku", requestHash: "h2" }),
        store.createRun(plan(["a"]), { idempotencyKey: "haiku", requestHash: "h2" }),
      ]) {
        const error = await rejected(attempt);
        expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
        expect({ code: (error as IdempotencyKeyReusedError).code, message: error.message }).toEqual({
          code: "idempotency_key_reused",
          message: expect.stringContaining(`Idempotency-Key "haiku" was first sent with another request, which made run ${first.id}`),
        });
      }
      expect(await store.createRun(plan(["a"]), { idempotencyKey: "haiku" })).toEqual(first);
      expect(await store.listRuns()).toEqual([first]);
      // A hash without a key is not recorded: it stands for nothing.
      expect((await store.createRun(plan(["b"]), { requestHash: "h3" })).requestHash).toBeNull();
    });

    test("unknown runs and tasks are NotFoundError naming the id that was asked for", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      expect(await rejected(store.getRun("rnope"))).toBeInstanceOf(NotFoundError);
      expect((await rejected(store.getRun("rnope"))).message).toContain('run "rnope" not found');
      expect(await rejected(store.listTasks("rnope"))).toMatchObject({ code: "run_not_found" });
      expect(await rejected(store.readRun("rnope"))).toMatchObject({ code: "run_not_found" });
      expect((await rejected(store.getTask(424_242))).message).toContain('task "424242" not found');
      expect(await rejected(store.findTask(run.id, "zz"))).toMatchObject({ code: "task_not_found" });
      expect((await rejected(store.findTask(run.id, "zz"))).message).toContain(`task "${run.id}/zz" not found`);
      // A run that is not there is what to report, not a task it lacks.
      expect(await rejected(store.findTask("rnope", "a"))).toMatchObject({ code: "run_not_found", message: expect.stringContaining('run "rnope" not found') });
    });

    test("listRuns lists the newest runs first, up to its limit, and filters by source and by unfinished", async () => {
      const { store, clock } = await open();
      const oldest = await store.createRun(plan(["a"]), { source: "one.md" });
      clock.advance(1_000);
      const middle = await store.createRun(plan(["a"]), { source: "two.md" });
      clock.advance(1_000);
      const newest = await store.createRun(plan(["a"]), { source: "one.md" });
      await store.cancelRun(middle.id);
      expect((await store.listRuns()).map((r) => r.id)).toEqual([newest.id, middle.id, oldest.id]);
      expect((await store.listRuns({ limit: 2 })).map((r) => r.id)).toEqual([newest.id, middle.id]);
      expect((await store.listRuns({ source: "one.md" })).map((r) => r.id)).toEqual([newest.id, oldest.id]);
      expect((await store.listRuns({ unfinished: true })).map((r) => r.id)).toEqual([newest.id, oldest.id]);
      expect((await store.listRuns({ source: "two.md", unfinished: true })).map((r) => r.id)).toEqual([]);
    });

    test("dependencyOutputs gives the outputs of a task's dependencies by their workplan ids, null for one without output yet", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["left"], ["right"], ["join", "left", "right"]));
      const left = await claimKey(store, "left");
      const join = await store.findTask(run.id, "join");
      expect(await store.dependencyOutputs(join.id)).toEqual({ left: null, right: null });
      await store.completeTask(left.taskId, left.attemptId, { made: 1 });
      expect(await store.dependencyOutputs(join.id)).toEqual({ left: { made: 1 }, right: null });
      const right = await store.findTask(run.id, "right");
      expect(await store.dependencyOutputs(right.id)).toEqual({});
    });

    test("a run's goal reads back exactly as it was written, however long", async () => {
      const { store } = await open();
      const goal = "Build the site.\n".repeat(2_000);
      const run = await store.createPlanningRun(goal, {});
      expect((await store.getRun(run.id)).goal).toBe(goal);
      expect((await store.listRuns())[0]!.goal).toBe(goal);
      expect((await store.readRun(run.id)).run.goal).toBe(goal);
    });

    test("a run's task ids are its own: tasks of two runs with the same keys are found apart", async () => {
      const { store } = await open();
      const one = await store.createRun(plan(["a"]));
      const two = await store.createRun(plan(["a"]));
      const a1 = await store.findTask(one.id, "a");
      const a2 = await store.findTask(two.id, "a");
      expect(a1.id).not.toBe(a2.id);
      expect([a1.runId, a2.runId]).toEqual([one.id, two.id]);
      const claimed = await claimOne(store, "w", 10_000, { runId: two.id });
      expect(claimed.taskId).toBe(a2.id);
    });

    test("two stores creating a run with one idempotency key at once create one run", async () => {
      const { store, another } = await open();
      const other = await another();
      const created = await Promise.all([store, other, store, other].map((s, i) => s.createRun(plan([`t${i}`]), { idempotencyKey: "trigger-42" })));
      expect(new Set(created.map((run) => run.id)).size).toBe(1);
      expect(await store.listRuns()).toHaveLength(1);
      expect((await store.listEvents()).filter((e) => e.type === "run.created")).toHaveLength(1);
    });

    test("of ten planning runs created at once with one key by two stores, exactly one says it created the run; the others get that run", async () => {
      const { store, another } = await open();
      const other = await another();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? other : store).createPlanningRunOnce(`goal ${i}`, { goal: `goal ${i}` }, { idempotencyKey: "deploy-7" })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const winner = results.find((r) => r.created)!.run;
      for (const result of results) expect(result.run.id).toBe(winner.id);
      expect(await store.listRuns()).toEqual([winner]);
      const again = await store.createPlanningRunOnce("later", {}, { idempotencyKey: "deploy-7" });
      expect(again).toEqual({ run: winner, created: false });
      expect(await store.createPlanningRunOnce("no key", {})).toMatchObject({ created: true, run: { idempotencyKey: null } });
    });
  });
}
