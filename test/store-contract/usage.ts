/** What a run may spend on models (its workplan's budget) and what its steps recorded spending. */
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimOne, gateRequest, plan, step, tasks } from "./support.ts";

export function usageContract(open: OpenDb): void {
  describe("budgets and model usage", () => {
    test("runBudget is the workplan's budget, and null for a plan without one", async () => {
      const { store } = await open();
      const budgeted = await store.createRun({ ...plan(["a"]), budget: { turns: 20, inputTokens: 100_000, costUsd: 2.5 } });
      const plain = await store.createRun(plan(["a"]));
      expect(await store.runBudget(budgeted.id)).toEqual({ turns: 20, inputTokens: 100_000, costUsd: 2.5 });
      expect(await store.runBudget(plain.id)).toBeNull();
    });

    test("a planning run has no budget until its plan is applied, then its plan's", async () => {
      const { store } = await open();
      const run = await store.createPlanningRun("g", {});
      expect(await store.runBudget(run.id)).toBeNull();
      const planning = await claimOne(store);
      await store.completeTask(planning.taskId, planning.attemptId, { ...plan(["a"]), budget: { outputTokens: 500 } });
      expect(await store.runBudget(run.id)).toEqual({ outputTokens: 500 });
    });

    test("a run without steps has used nothing", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 0, inputTokens: 0, outputTokens: 0 });
    });

    test("runModelUsage sums the usage recorded on the run's completed steps; steps without usage are not counted", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"], ["b"]));
      const other = await store.createRun(plan(["x"]));
      const [a, b, x] = await store.claimTasks("w", 3, 10_000);
      await store.recordStep(a!.taskId, a!.attemptId, step("turn", 1, { kind: "model", usage: { inputTokens: 100, outputTokens: 10 } }));
      await store.recordStep(a!.taskId, a!.attemptId, step("tool", 2, { kind: "step" }));
      await store.recordStep(a!.taskId, a!.attemptId, step("turn#2", 3, { kind: "model", usage: { inputTokens: 50, outputTokens: 5 } }));
      await store.recordStep(b!.taskId, b!.attemptId, step("turn", 1, { kind: "model", usage: { inputTokens: 7, outputTokens: 3 } }));
      await store.recordStep(b!.taskId, b!.attemptId, step("quiet", 2, { usage: null }));
      await store.recordStep(x!.taskId, x!.attemptId, step("turn", 1, { kind: "model", usage: { inputTokens: 1_000, outputTokens: 1_000 } }));
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 3, inputTokens: 157, outputTokens: 18 });
      expect(await store.runModelUsage(other.id)).toEqual({ turns: 1, inputTokens: 1_000, outputTokens: 1_000 });
      expect((await store.listSteps(a!.taskId)).map((s) => s.usage)).toEqual([{ inputTokens: 100, outputTokens: 10 }, null, { inputTokens: 50, outputTokens: 5 }]);
    });

    test("usage recorded on a failed step is not counted", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.recordStep(a.taskId, a.attemptId, step("turn", 1, { kind: "model", status: "failed", error: { message: "cut off" }, usage: { inputTokens: 9, outputTokens: 9 } }));
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 0, inputTokens: 0, outputTokens: 0 });
    });

    test("usage of completed steps still counts after the task failed and was retried", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(tasks({ id: "a", retries: 1 }));
      const a = await claimOne(store);
      await store.recordStep(a.taskId, a.attemptId, step("turn", 1, { kind: "model", usage: { inputTokens: 40, outputTokens: 4 } }));
      clock.set((await store.failTask(a.taskId, a.attemptId, { message: "tool crashed" })).availableAt!);
      const again = await claimOne(store);
      await store.recordStep(again.taskId, again.attemptId, step("turn#2", 2, { kind: "model", usage: { inputTokens: 60, outputTokens: 6 } }));
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 2, inputTokens: 100, outputTokens: 10 });
    });

    test("model usage spent before a gate rejection with action retry still counts against the run after the journal is cleared", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["draft"]));
      const first = await claimOne(store);
      await store.recordStep(first.taskId, first.attemptId, step("turn", 1, { kind: "model", usage: { inputTokens: 300, outputTokens: 30 } }));
      await store.suspendTask(first.taskId, first.attemptId, {
        reason: "approval",
        step: step("approve", 2, { kind: "approval", status: "waiting", endedAt: null }),
        gate: gateRequest("g-draft", { question: "Is the draft right?" }),
      });
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 1, inputTokens: 300, outputTokens: 30 });
      await store.decideGate("g-draft", { approved: false, by: "carol", reason: "start over", action: "retry" });
      expect(await store.listSteps(first.taskId)).toEqual([]);
      // The tokens were spent: a rejection must not hand the run its budget back.
      expect(await store.runModelUsage(run.id)).toEqual({ turns: 1, inputTokens: 300, outputTokens: 30 });
    });
  });
}
