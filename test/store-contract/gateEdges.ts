/**
 * Gates at the edges, on every store: a cancelled run closes its gates, a
 * rejection that failed a task asks again on resume, a late retry rejection
 * clears no journal, a frozen schedule waits for approval,
 * and a run keeps the hash of what it was planned from.
 */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { GateNotPendingError, InvalidTransitionError } from "../../src/core/errors.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, runWaitingAtGate, scheduleInput, step, tasks } from "./support.ts";

export function gateEdgeContract(open: OpenDb): void {
  describe("gates at the edges", () => {
    test("cancelling a run closes its pending gates (cancelled, by the canceller, with the reason) and nobody can decide them afterwards", async () => {
      const { store, clock } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store, { question: "Deploy?" });
      clock.advance(1_000);
      await store.cancelRun(run.id, { actor: "carol", reason: "wrong branch" });
      expect(await store.getGate(gateId)).toMatchObject({ state: "cancelled", decidedBy: "carol", decidedAt: clock.now(), reason: "wrong branch" });
      const [cancelled] = await eventsOf(store, "gate.cancelled", { runId: run.id });
      expect(cancelled).toMatchObject({ actor: "carol", taskId, data: { gate: gateId, question: "Deploy?" } });
      const late = await rejected(store.decideGate(gateId, { approved: true, by: "alice" }));
      expect(late).toBeInstanceOf(GateNotPendingError);
      expect(await store.listGates({ pendingOnly: true })).toEqual([]);
    });

    test("a task failed by a rejection (reason rejected) asks again on resume: the approval that said no is forgotten, its other steps kept", async () => {
      const { store } = await open();
      const run = await store.createRun(tasks({ id: "ship" }));
      const first = await claimOne(store);
      await store.recordStep(first.taskId, first.attemptId, step("build", 1, { output: { ok: true } }));
      await store.suspendTask(first.taskId, first.attemptId, {
        reason: 'approval "approve"',
        step: step("approve", 2, { kind: "approval", status: "waiting", output: { gateId: "g-ship" }, endedAt: null }),
        gate: { id: "g-ship", stepKey: "approve", question: "Ship?", askedBy: "w" },
      });
      await store.decideGate("g-ship", { approved: false, by: "bob", reason: "not today" });
      const second = await claimOne(store);
      // The workflow replays the approval, records the decision and fails the task as a person said.
      await store.recordStep(second.taskId, second.attemptId, step("approve", 2, { kind: "approval", output: { gateId: "g-ship", decision: { approved: false, reason: "not today" } } }));
      await store.failTask(second.taskId, second.attemptId, { message: "rejected: not today", code: "gate_rejected" }, { retryable: false, reason: "rejected" });
      expect(await store.getTask(second.taskId)).toMatchObject({ state: "failed", failReason: "rejected" });
      expect((await store.getRun(run.id)).state).toBe("failed");

      expect((await store.resumeRun(run.id)).reopened).toBe(1);
      expect((await store.listSteps(second.taskId)).map((s) => s.key)).toEqual(["build"]);
      expect(await store.getTask(second.taskId)).toMatchObject({ state: "ready", failReason: null });
      expect((await store.getGate("g-ship")).state).toBe("rejected"); // the old gate and its decision stay on record
    });

    test("an approval that said yes is kept when a run is resumed, and so is a rejection of a task that failed for another reason", async () => {
      const { store } = await open();
      const run = await store.createRun(tasks({ id: "t" }));
      const claimed = await claimOne(store);
      await store.recordStep(claimed.taskId, claimed.attemptId, step("approve", 1, { kind: "approval", output: { gateId: "g", decision: { approved: false } } }));
      await store.failTask(claimed.taskId, claimed.attemptId, { message: "boom" }, { retryable: false });
      await store.resumeRun(run.id);
      expect((await store.listSteps(claimed.taskId)).map((s) => s.key)).toEqual(["approve"]);
    });

    test("a retry rejection that arrives after the run was cancelled is refused and clears nothing of the journal", async () => {
      const { store } = await open();
      const { run, gateId, taskId, claimed } = await runWaitingAtGate(store);
      await store.cancelRun(run.id, { actor: "x" });
      expect(await rejected(store.decideGate(gateId, { approved: false, by: "bob", reason: "redo", action: "retry" }))).toBeInstanceOf(GateNotPendingError);
      expect((await store.listSteps(taskId)).map((s) => [s.key, s.attemptId])).toEqual([["approve", claimed.attemptId]]);
    });

    test("a schedule that needs approval is created paused with a gate for it; enabling or firing it is refused naming the gate; approving enables it", async () => {
      const { store, clock } = await open();
      const created = await store.createSchedule(
        scheduleInput("frozen", { targetKind: "workplan", target: '{"goal":"g","tasks":[]}', approval: { question: "Run this plan nightly?", evidence: { risks: ["1 shell command"] } } }),
        "alice",
      );
      expect(created).toMatchObject({ enabled: false, approvalHash: expect.stringMatching(/^[0-9a-f]{64}$/), approvedHash: null });
      const [gate] = await store.listGates({ pendingOnly: true });
      expect(gate).toMatchObject({ runId: null, taskId: null, scheduleId: created.id, scheduleName: "frozen", question: "Run this plan nightly?", evidence: { risks: ["1 shell command"] }, subjectHash: created.approvalHash, askedBy: "alice" });

      const enabling = await rejected(store.setScheduleEnabled("frozen", true, "mallory"));
      expect(enabling).toBeInstanceOf(InvalidTransitionError);
      expect(enabling.message).toContain(`gate ${gate!.id}`);
      const firing = await rejected(store.fireSchedule({ scheduleId: created.id, slot: clock.now(), actor: "sched", goal: "g", planningInput: {}, manual: true }));
      expect(firing).toBeInstanceOf(InvalidTransitionError);
      expect(await store.listRuns()).toEqual([]);

      clock.advance(5_000);
      await store.decideGate(gate!.id, { approved: true, by: "bob" });
      expect(await store.getSchedule("frozen")).toMatchObject({ enabled: true, approvedHash: created.approvalHash, lastSlot: clock.now() });
      expect((await eventsOf(store, "schedule.resumed")).map((e) => [e.actor, e.data])).toEqual([["bob", { schedule: "frozen" }]]);
      expect(await store.fireSchedule({ scheduleId: created.id, slot: clock.now() + 60_000, actor: "sched", goal: "g", planningInput: {} })).toMatchObject({ outcome: "fired" });
    });

    test("a rejected frozen schedule stays paused and says so; removing a schedule removes its gate", async () => {
      const { store } = await open();
      await store.createSchedule(scheduleInput("frozen", { approval: { question: "Run it?", evidence: null } }), "alice");
      const [gate] = await store.listGates({ pendingOnly: true });
      await store.decideGate(gate!.id, { approved: false, by: "bob", reason: "too broad" });
      expect((await store.getSchedule("frozen")).enabled).toBe(false);
      expect((await rejected(store.setScheduleEnabled("frozen", true, "bob"))).message).toContain("was rejected");
      await store.deleteSchedule("frozen", "alice");
      expect(await store.listGates()).toEqual([]);
    });

    test("a run keeps the content hash of what it was planned from", async () => {
      const { store } = await open();
      const planned = await store.createRun(tasks({ id: "a" }), { source: "goal.md", sourceHash: "a".repeat(64) });
      expect((await store.getRun(planned.id)).sourceHash).toBe("a".repeat(64));
      const planning = await store.createPlanningRun("goal", {}, { source: "other.md" });
      expect(planning.sourceHash).toBeNull();
    });
  });
}
