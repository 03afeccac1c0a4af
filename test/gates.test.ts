import { describe, expect, test } from "bun:test";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import review from "../workflows/review.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { GateNotPendingError } from "../src/core/errors.ts";
import { freshStore, rejected } from "./helpers.ts";

describe("human gates", () => {
  test("an approval suspends the task with a pending gate; approving makes it ready and the replay returns the decision", async () => {
    const { store, clock } = freshStore();
    const after: unknown[] = [];
    const wf = workflow("ship", async (ctx) => {
      const built = await ctx.step("build", async () => "artifact-1");
      const decision = await ctx.approval("release", { question: "Ship artifact-1?", evidence: { artifact: built } });
      after.push(decision);
      return decision;
    });
    const { runId, taskId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("suspended");
    expect((await store.getTask(taskId)).state).toBe("waiting");
    const [gate] = await store.listGates({ pendingOnly: true });
    expect(gate).toMatchObject({ runId, taskId, taskKey: "t", stepKey: "release", question: "Ship artifact-1?", evidence: { artifact: "artifact-1" }, state: "pending" });
    expect(gate!.subjectHash).toMatch(/^[0-9a-f]{64}$/);
    expect(gate!.askedBy).toContain(`task ${runId}/t`);
    clock.advance(86_400_000); // a gate never approves itself, however long it waits
    expect(await attemptOnce(store, clock, wf)).toBeNull();

    const decided = await store.decideGate(gate!.id, { approved: true, by: "alice" });
    expect(decided).toMatchObject({ state: "approved", decidedBy: "alice", decidedAt: clock.now() });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect(after).toEqual([{ approved: true, by: "alice", at: clock.now() }]);
    const events = (await store.listEvents({ runId })).map((e) => `${e.type}:${e.actor}`);
    expect(events).toContain("gate.approved:alice");
  });

  test("rejecting to fail makes the workflow fail its task with gate_rejected, naming who and why, and its dependents are skipped", async () => {
    const { store, clock } = freshStore();
    const registry = new WorkflowRegistry().register(review);
    const { run } = await submitPlan(store, registry, {
      goal: "g",
      tasks: [
        { id: "review", title: "r", workflow: "review", input: { question: "Publish?" } },
        { id: "publish", title: "p", workflow: "review", input: { question: "really?" }, after: ["review"] },
      ],
    });
    await attemptOnce(store, clock, review);
    const [gate] = await store.listGates({ runId: run.id });
    await store.decideGate(gate!.id, { approved: false, by: "bob", reason: "the changelog is missing" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("failed");
    const task = await store.findTask(run.id, "review");
    expect(task).toMatchObject({ state: "failed", failReason: "rejected", error: { code: "gate_rejected" } });
    expect(task.error!.message).toContain("rejected by bob");
    expect(task.error!.message).toContain("the changelog is missing");
    expect((await store.findTask(run.id, "publish")).state).toBe("skipped");
    expect((await store.getRun(run.id)).state).toBe("failed");
  });

  test("rejecting with action retry starts the task over with the reason as feedback", async () => {
    const { store, clock } = freshStore();
    const seen: string[][] = [];
    const builds: number[] = [];
    const wf = workflow("drafts", async (ctx) => {
      seen.push([...ctx.feedback]);
      const draft = await ctx.step("draft", async () => (builds.push(builds.length + 1), `draft ${builds.length}`));
      await ctx.approval("check", { question: `Accept ${draft}?` });
      return draft;
    });
    const { taskId } = await submitOne(store, wf);
    await attemptOnce(store, clock, wf);
    const [first] = await store.listGates();
    await store.decideGate(first!.id, { approved: false, by: "carol", reason: "use the house style", action: "retry" });
    expect((await store.getTask(taskId)).feedback).toMatchObject([{ gateId: first!.id, reason: "use the house style", by: "carol" }]);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("suspended"); // redone, asks again
    const second = (await store.listGates({ pendingOnly: true }))[0]!;
    expect(second.question).toBe("Accept draft 2?");
    await store.decideGate(second.id, { approved: true, by: "carol" });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect(seen).toEqual([[], ["use the house style"], ["use the house style"]]);
    expect((await store.getTask(taskId)).output).toBe("draft 2");
  });

  test("a review task's timeout and onTimeout reach its gate, and an escalated gate approved late lets the workflow finish", async () => {
    const { store, clock } = freshStore();
    await submitOne(store, review, { input: { question: "Go?", timeout: "10m", onTimeout: "escalate" } });
    await attemptOnce(store, clock, review);
    const [gate] = await store.listGates();
    expect(gate).toMatchObject({ state: "pending", timeoutAt: clock.now() + 600_000, onTimeout: "escalate" });
    clock.advance(600_000);
    await store.claimTasks("sweeper", 0, 1_000);
    expect((await store.getGate(gate!.id)).overdueAt).toBe(clock.now());
    await store.decideGate(gate!.id, { approved: true, by: "dave" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("succeeded");
  });

  test("resuming a run whose gate a person rejected (action fail) asks again at a new gate, rather than failing at once", async () => {
    const { store, clock } = freshStore();
    const { runId, taskId } = await submitOne(store, review, { input: { question: "Publish?" } });
    await attemptOnce(store, clock, review);
    const [first] = await store.listGates({ runId });
    await store.decideGate(first!.id, { approved: false, by: "bob", reason: "not yet" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("failed");
    expect((await store.getTask(taskId)).failReason).toBe("rejected");

    await store.resumeRun(runId, { actor: "bob" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("suspended");
    const pending = await store.listGates({ runId, pendingOnly: true });
    expect(pending).toHaveLength(1);
    expect(pending[0]!.id).not.toBe(first!.id);
    await store.decideGate(pending[0]!.id, { approved: true, by: "bob" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("succeeded");
    expect((await store.getGate(first!.id)).state).toBe("rejected"); // the first decision stays on record
  });

  test("cancelling a run closes its pending gate; deciding it afterwards is refused; resuming the run asks again", async () => {
    const { store, clock } = freshStore();
    const { runId } = await submitOne(store, review, { input: { question: "Publish?" } });
    await attemptOnce(store, clock, review);
    const [gate] = await store.listGates({ runId });
    await store.cancelRun(runId, { actor: "carol", reason: "wrong branch" });
    expect(await store.getGate(gate!.id)).toMatchObject({ state: "cancelled", decidedBy: "carol", reason: "wrong branch" });
    expect(await store.listGates({ pendingOnly: true })).toEqual([]);
    expect(await rejected(store.decideGate(gate!.id, { approved: true, by: "dave" }))).toBeInstanceOf(GateNotPendingError);

    await store.resumeRun(runId, { actor: "carol" });
    expect((await attemptOnce(store, clock, review))!.outcome).toBe("suspended");
    const [again] = await store.listGates({ runId, pendingOnly: true });
    expect(again!.id).not.toBe(gate!.id);
  });
});
