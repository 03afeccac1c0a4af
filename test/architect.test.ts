import { describe, expect, test } from "bun:test";
import { useFakeModel } from "./fixtures/fakeModelEnv.ts";

import { attemptWith } from "./engine-helpers.ts";
import { freshStore } from "./helpers.ts";

const PLAN = {
  version: 1,
  goal: "count the words",
  tasks: [
    { id: "count", title: "Count words", description: "Done when the count is printed.", workflow: "shell", input: { command: "wc -w README.md" } },
    { id: "check", title: "Check the count", workflow: "noop", input: {}, after: ["count"] },
  ],
};

const fakeModel = useFakeModel("fake-planner");
const model = fakeModel.model;

async function planningRun(store: ReturnType<typeof freshStore>["store"], input: Record<string, unknown>) {
  return store.createPlanningRun("count the words", { goal: "count the words", source: "goal.md", ...input });
}

describe("the Architect", () => {
  test("a model's valid plan is gated; approving it inserts the tasks in the same transaction and the run starts", async () => {
    const server = model({ content: JSON.stringify(PLAN) });
    const { store, clock } = freshStore();
    const run = await planningRun(store, { review: "none" }); // model-written shell commands are gated anyway
    expect((await store.listTasks(run.id)).map((t) => [t.key, t.workflow, t.state])).toEqual([["@plan", "architect", "ready"]]);

    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("suspended");
    expect((await store.getRun(run.id)).state).toBe("awaiting_approval");
    const [gate] = await store.listGates({ runId: run.id });
    expect(gate!.question).toBe("Approve the plan: 2 tasks in 2 waves, with 1 shell command written by a model?");
    expect(gate!.evidence).toMatchObject({ writtenBy: "model", waves: [["count"], ["check"]], risks: ["1 shell command written by a model"] });
    // Every command in full, as it will run.
    const shown = (gate!.evidence as { tasks: { workflow: string; action: { kind: string; command?: string } }[] }).tasks.find((t) => t.workflow === "shell");
    expect(shown!.action).toEqual({ kind: "command", command: (PLAN.tasks.find((t) => t.workflow === "shell")!.input as { command: string }).command });

    await store.decideGate(gate!.id, { approved: true, by: "alice" });
    expect((await store.getRun(run.id)).state).toBe("planning");
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("succeeded");
    expect(server.requests).toHaveLength(1); // the replay did not call the model again

    const after = await store.getRun(run.id);
    expect(after).toMatchObject({ state: "running", tasksTotal: 3, tasksOpen: 2 });
    expect((await store.listTasks(run.id)).map((t) => [t.key, t.state])).toEqual([["@plan", "succeeded"], ["count", "ready"], ["check", "blocked"]]);
    const steps = await store.listSteps((await store.findTask(run.id, "@plan")).id);
    expect(steps.map((s) => [s.key, s.kind])).toEqual([["model", "step"], ["plan", "approval"]]);
    expect((steps[0]!.input as { model: string }).model).toBe("fake-planner");
  });

  test("an invalid plan is sent back with its problems and the corrected plan is used", async () => {
    const broken = { ...PLAN, tasks: [PLAN.tasks[0], { ...PLAN.tasks[1], after: ["compile"] }] };
    const server = model({ content: JSON.stringify(broken) }, { content: "```json\n" + JSON.stringify(PLAN) + "\n```" });
    const { store, clock } = freshStore();
    const run = await planningRun(store, { review: "none" });
    await attemptWith(store, clock, fakeModel.registry());
    expect(server.requests).toHaveLength(2);
    const repair = server.requests[1]!.body.messages;
    expect(repair.map((m: { role: string }) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(repair[3].content).toContain('tasks[1].after[0]: unknown task "compile"; known ids: count, check');
    const [gate] = await store.listGates({ runId: run.id });
    expect((gate!.evidence as { tasks: { after: string[] }[] }).tasks[1]!.after).toEqual(["count"]);
  });

  test("a model that keeps answering with a cycle or garbage fails the run after the bounded repairs, showing the last problems", async () => {
    const cyclic = { ...PLAN, tasks: [{ ...PLAN.tasks[0], after: ["check"] }, PLAN.tasks[1]] };
    const server = model({ content: "I think you should count the words." }, { content: JSON.stringify(cyclic) }, { content: JSON.stringify(cyclic) });
    const { store, clock } = freshStore();
    const run = await planningRun(store, { review: "none", maxRepairs: 2 });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("failed");
    expect(server.requests).toHaveLength(3);
    const task = await store.findTask(run.id, "@plan");
    expect(task.error!.message).toContain("the model's plan was still invalid after 3 attempts");
    expect(task.error!.message).toContain("dependency cycle: count -> check -> count");
    expect((await store.getRun(run.id)).state).toBe("failed");
  });

  test("a plan naming an unknown workflow or a bad input is repaired like any other problem", async () => {
    const wrong = { ...PLAN, tasks: [{ ...PLAN.tasks[0], input: { cmd: "wc" } }, PLAN.tasks[1]] };
    const server = model({ content: JSON.stringify(wrong) }, { content: JSON.stringify(PLAN) });
    const { store, clock } = freshStore();
    await planningRun(store, { review: "none" });
    await attemptWith(store, clock, fakeModel.registry());
    expect(server.requests[1]!.body.messages[3].content).toContain("tasks[0].input");
  });

  test("a plan carried by the goal file needs no model, and is only gated when review is asked for", async () => {
    const { store, clock } = freshStore();
    const run = await planningRun(store, { plan: PLAN, review: "none" });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("succeeded");
    expect((await store.getRun(run.id)).state).toBe("running");
    const second = freshStore();
    const gated = await planningRun(second.store, { plan: PLAN, review: "gate" });
    expect((await attemptWith(second.store, second.clock, fakeModel.registry()))!.outcome).toBe("suspended");
    const [gate] = await second.store.listGates({ runId: gated.id });
    expect(gate!.question).toBe("Approve the plan: 2 tasks in 2 waves?");
  });

  test("with no model and no plan the planning task fails with both ways forward", async () => {
    const { store, clock } = freshStore();
    const run = await planningRun(store, { review: "none" });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("failed");
    const task = await store.findTask(run.id, "@plan");
    expect(task.error!.code).toBe("no_model");
    expect(task.error!.message).toContain("set OPENAI_API_KEY");
    expect(task.error!.message).toContain("write the plan into the goal file");
  });

  test("rejecting the plan fails the run", async () => {
    const { store, clock } = freshStore();
    const run = await planningRun(store, { plan: PLAN, review: "gate" });
    await attemptWith(store, clock, fakeModel.registry());
    const [gate] = await store.listGates({ runId: run.id });
    await store.decideGate(gate!.id, { approved: false, by: "bob", reason: "too few checks" });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("failed");
    expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksTotal: 1 });
  });

  test("rejecting the model's plan with action retry asks the model again, with the reason in the conversation", async () => {
    const better = { ...PLAN, tasks: [...PLAN.tasks, { id: "double-check", title: "Check again", workflow: "noop", input: {}, after: ["check"] }] };
    const server = model({ content: JSON.stringify(PLAN) }, { content: JSON.stringify(better) });
    const { store, clock } = freshStore();
    const run = await planningRun(store, { review: "gate" });
    await attemptWith(store, clock, fakeModel.registry());
    const [first] = await store.listGates({ runId: run.id });
    await store.decideGate(first!.id, { approved: false, by: "bob", reason: "check the count twice", action: "retry" });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("suspended"); // planned again, gated again
    expect(server.requests).toHaveLength(2);
    const asked = JSON.stringify(server.requests[1]!.body.messages);
    expect(asked).toContain("A person rejected an earlier plan for this goal");
    expect(asked).toContain("check the count twice");
    expect(JSON.stringify(server.requests[0]!.body.messages)).not.toContain("check the count twice");
    // The reason is journaled as the model step's input.
    const planTask = await store.findTask(run.id, "@plan");
    const [modelStep] = await store.listSteps(planTask.id);
    expect(JSON.stringify(modelStep!.input)).toContain("check the count twice");
    const second = (await store.listGates({ runId: run.id, pendingOnly: true }))[0]!;
    await store.decideGate(second.id, { approved: true, by: "bob" });
    expect((await attemptWith(store, clock, fakeModel.registry()))!.outcome).toBe("succeeded");
    expect((await store.listTasks(run.id)).map((t) => t.key)).toContain("double-check");
  });
});
