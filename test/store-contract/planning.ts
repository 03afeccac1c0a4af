/** The planning run: its "@plan" task's output becomes the run's tasks in the transaction that completes it. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { PlanInvalidError } from "../../src/core/errors.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, gateRequest, observe, plan, states, step } from "./support.ts";

export function planningContract(open: OpenDb): void {
  describe("the planning run", () => {
    test("a planning run starts with one ready task, @plan of workflow architect, whose input is the planning input", async () => {
      const { store, clock } = await open();
      const run = await store.createPlanningRun("Write a haiku about leases", { goal: "haiku", review: "none" }, { source: "haiku.md", cwd: "/tmp/h", actor: "cli" });
      expect(run).toMatchObject({ state: "planning", goal: "Write a haiku about leases", source: "haiku.md", cwd: "/tmp/h", tasksTotal: 1, tasksOpen: 1, tasksFailed: 0, createdAt: clock.now() });
      const [planning] = await store.listTasks(run.id);
      expect(planning).toMatchObject({ key: "@plan", workflow: "architect", title: "Plan the work", state: "ready", input: { goal: "haiku", review: "none" }, after: [] });
      const [created] = await store.listEvents({ runId: run.id });
      expect(created).toMatchObject({ type: "run.created", actor: "cli", runId: run.id, data: { planning: true, source: "haiku.md" } });
      expect(await claimOne(store, "architect")).toMatchObject({ runId: run.id, key: "@plan", workflow: "architect", input: { goal: "haiku", review: "none" }, cwd: "/tmp/h" });
    });

    test("completing @plan with a workplan adds its tasks, its goal and its budget to the run in the same transaction, and the run starts running", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("the goal as written", {});
      const planning = await claimOne(store, "architect");
      const workplan = { ...plan(["a"], ["b", "a"]), budget: { turns: 9 } };
      expect(await store.completeTask(planning.taskId, planning.attemptId, workplan)).toEqual({ unblocked: 0, runState: "running" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "running", goal: "test goal", tasksTotal: 3, tasksOpen: 2, tasksFailed: 0, finishedAt: null });
      expect((await store.listTasks(run.id)).map((t) => [t.key, t.state, t.pendingDeps])).toEqual([["@plan", "succeeded", 0], ["a", "ready", 0], ["b", "blocked", 1]]);
      expect(await store.runBudget(run.id)).toEqual({ turns: 9 });
      const planned = await eventsOf(store, "run.planned", { runId: run.id });
      expect(planned.map((e) => [e.actor, e.data])).toEqual([["architect", { tasks: 2, waves: [["a"], ["b"]] }]]);
      expect((await eventsOf(store, "task.succeeded", { runId: run.id })).map((e) => e.data)).toEqual([{ unblocked: [] }]);
    });

    test("a planned run ends when its last planned task ends, counting the planning task among its tasks", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("g", {});
      const planning = await claimOne(store);
      await store.completeTask(planning.taskId, planning.attemptId, plan(["a"]));
      const a = await claimOne(store);
      expect(a.key).toBe("a");
      expect(await store.completeTask(a.taskId, a.attemptId, "done")).toEqual({ unblocked: 0, runState: "succeeded" });
      expect(await store.getRun(run.id)).toMatchObject({ state: "succeeded", tasksTotal: 2, tasksOpen: 0, tasksFailed: 0 });
    });

    test("an invalid plan output is refused with PlanInvalidError and changes nothing: the planning task still runs under its attempt, which may then fail it", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("g", {});
      const planning = await claimOne(store);
      const before = await observe(store, run.id);
      expect(await rejected(store.completeTask(planning.taskId, planning.attemptId, { goal: "g", tasks: [] }))).toBeInstanceOf(PlanInvalidError);
      expect(await rejected(store.completeTask(planning.taskId, planning.attemptId, plan(["a", "a"])))).toBeInstanceOf(PlanInvalidError);
      expect(await observe(store, run.id)).toEqual(before);
      expect(await store.failTask(planning.taskId, planning.attemptId, { message: "the model's plan was invalid" })).toMatchObject({ state: "failed", runState: "failed" });
      expect(await store.runBudget(run.id)).toBeNull();
    });

    test("a planning task that asks for approval puts its run in awaiting_approval; a decision returns the run to planning", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("g", {});
      const planning = await claimOne(store);
      await store.suspendTask(planning.taskId, planning.attemptId, {
        reason: "approval",
        step: step("plan-review", 1, { kind: "approval", status: "waiting", endedAt: null }),
        gate: gateRequest("g-plan", { stepKey: "plan-review", question: "Approve the plan?" }),
      });
      expect((await store.getRun(run.id)).state).toBe("awaiting_approval");
      expect((await store.getGate("g-plan")).taskKey).toBe("@plan");
      await store.decideGate("g-plan", { approved: true, by: "erin" });
      expect((await store.getRun(run.id)).state).toBe("planning");
      const again = await claimOne(store);
      await store.completeTask(again.taskId, again.attemptId, plan(["a"]));
      expect(await store.getRun(run.id)).toMatchObject({ state: "running", tasksOpen: 1 });
      expect(await states(store, run.id)).toEqual({ "@plan": "succeeded", a: "ready" });
    });
  });
}
