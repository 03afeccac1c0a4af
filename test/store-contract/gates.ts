/** Human gates: opened as a task suspends, decided once by a person, swept for timeouts by claims. A gate never approves itself. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { GateNotPendingError, InputError, NotFoundError } from "../../src/core/errors.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, runWaitingAtGate, step } from "./support.ts";

export function gateContract(open: OpenDb): void {
  describe("gates", () => {
    test("suspending with a gate opens it pending with its question, evidence, subject, asker and timeout, and the task waits without a lease", async () => {
      const { store, clock } = await open();
      const { run, taskId, claimed } = await runWaitingAtGate(store, { question: "Ship artifact-1?", evidence: { artifact: "a-1" }, subjectHash: "f".repeat(64), timeoutAt: clock.now() + 60_000, askedBy: "w (task r/ask)" });
      const gate = await store.getGate(`g-${run.id}`);
      expect(gate).toEqual({
        id: `g-${run.id}`, runId: run.id, taskId, taskKey: "ask", scheduleId: null, scheduleName: null, stepKey: "approve", question: "Ship artifact-1?", evidence: { artifact: "a-1" },
        subjectHash: "f".repeat(64), askedBy: "w (task r/ask)", state: "pending", decidedBy: null, decidedAt: null, reason: null, action: null,
        timeoutAt: clock.now() + 60_000, onTimeout: "fail", overdueAt: null, createdAt: clock.now(),
      });
      expect(await store.getTask(taskId)).toMatchObject({ state: "waiting", attemptId: null });
      expect((await store.listSteps(taskId)).map((s) => [s.key, s.kind, s.status])).toEqual([["approve", "approval", "waiting"]]);
      const [opened] = await eventsOf(store, "gate.opened", { runId: run.id });
      expect(opened).toMatchObject({ actor: "w (task r/ask)", taskId, data: { gate: gate.id, question: "Ship artifact-1?" } });
      expect((await eventsOf(store, "task.waiting", { runId: run.id }))[0]!.attemptId).toBe(claimed.attemptId);
    });

    test("listGates lists gates in the order they opened, by run, and only the pending ones when asked", async () => {
      const { store, clock } = await open();
      const first = await runWaitingAtGate(store);
      clock.advance(1_000);
      const second = await runWaitingAtGate(store);
      await store.decideGate(first.gateId, { approved: true, by: "alice" });
      expect((await store.listGates()).map((g) => g.id)).toEqual([first.gateId, second.gateId]);
      expect((await store.listGates({ pendingOnly: true })).map((g) => g.id)).toEqual([second.gateId]);
      expect((await store.listGates({ runId: first.run.id })).map((g) => g.id)).toEqual([first.gateId]);
      expect(await store.listGates({ runId: first.run.id, pendingOnly: true })).toEqual([]);
    });

    test("a gate without a timeout never decides itself, however long it waits", async () => {
      const { store, clock } = await open();
      const { gateId, taskId } = await runWaitingAtGate(store);
      clock.advance(30 * 86_400_000);
      expect(await store.claimTasks("w", 0, 1_000)).toEqual([]);
      expect(await store.claimTasks("w", 1, 1_000)).toEqual([]);
      expect((await store.getGate(gateId)).state).toBe("pending");
      expect((await store.getTask(taskId)).state).toBe("waiting");
    });

    test("approving a gate records who and when, makes its task ready with its journal kept, and appends gate.approved", async () => {
      const { store, clock } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store, { question: "Go?" });
      clock.advance(5_000);
      expect(await store.decideGate(gateId, { approved: true, by: "alice" })).toMatchObject({ state: "approved", decidedBy: "alice", decidedAt: clock.now(), reason: null, action: null });
      expect(await store.getTask(taskId)).toMatchObject({ state: "ready", availableAt: clock.now(), feedback: [] });
      expect((await store.listSteps(taskId)).map((s) => s.key)).toEqual(["approve"]);
      const [approved] = await eventsOf(store, "gate.approved", { runId: run.id });
      expect(approved).toMatchObject({ actor: "alice", taskId, data: { gate: gateId, question: "Go?", reason: null, action: null } });
      expect(await claimOne(store)).toMatchObject({ taskId, attempt: 2 });
    });

    test("rejecting needs a reason: a missing or blank one is refused with InputError and the gate stays pending", async () => {
      const { store } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store);
      expect(await rejected(store.decideGate(gateId, { approved: false, by: "bob", reason: "  " }))).toBeInstanceOf(InputError);
      expect(await rejected(store.decideGate(gateId, { approved: false, by: "bob" }))).toBeInstanceOf(InputError);
      expect(await store.getGate(gateId)).toMatchObject({ state: "pending", decidedBy: null });
      expect((await store.getTask(taskId)).state).toBe("waiting");
      expect(await eventsOf(store, "gate.rejected", { runId: run.id })).toEqual([]);
    });

    test("rejecting with action fail, the default, records the trimmed reason and makes the task ready so its workflow can fail it", async () => {
      const { store, clock } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store, { question: "Publish?" });
      const decided = await store.decideGate(gateId, { approved: false, by: "bob", reason: "  the changelog is missing " });
      expect(decided).toMatchObject({ state: "rejected", decidedBy: "bob", decidedAt: clock.now(), reason: "the changelog is missing", action: "fail" });
      expect(await store.getTask(taskId)).toMatchObject({ state: "ready", feedback: [] });
      expect((await store.listSteps(taskId)).map((s) => s.key)).toEqual(["approve"]);
      const [rejected] = await eventsOf(store, "gate.rejected", { runId: run.id });
      expect(rejected).toMatchObject({ actor: "bob", data: { gate: gateId, question: "Publish?", reason: "the changelog is missing", action: "fail" } });
    });

    test("rejecting with action retry adds the reason to the task's feedback, clears its journal, and the next attempt receives the feedback", async () => {
      const { store, clock } = await open();
      const { gateId, taskId } = await runWaitingAtGate(store);
      await store.decideGate(gateId, { approved: false, by: "carol", reason: "use the house style", action: "retry" });
      const firstFeedback = { gateId, reason: "use the house style", by: "carol", at: clock.now() };
      expect(await store.getTask(taskId)).toMatchObject({ state: "ready", feedback: [firstFeedback] });
      expect(await store.listSteps(taskId)).toEqual([]);
      const second = await claimOne(store);
      expect(second.feedback).toEqual([firstFeedback]);
      clock.advance(1_000);
      await store.suspendTask(second.taskId, second.attemptId, {
        reason: "approval",
        step: step("approve", 1, { kind: "approval", status: "waiting", endedAt: null }),
        gate: { id: "g-second", stepKey: "approve", question: "Now?", askedBy: "w" },
      });
      await store.decideGate("g-second", { approved: false, by: "dave", reason: "shorter", action: "retry" });
      const third = await claimOne(store);
      expect(third.feedback).toEqual([firstFeedback, { gateId: "g-second", reason: "shorter", by: "dave", at: clock.now() }]);
    });

    test("the first decision stands: deciding again is refused with GateNotPendingError naming the first decider", async () => {
      const { store } = await open();
      const { run, gateId } = await runWaitingAtGate(store);
      await store.decideGate(gateId, { approved: true, by: "alice" });
      expect(await rejected(store.decideGate(gateId, { approved: true, by: "alice" }))).toBeInstanceOf(GateNotPendingError);
      expect((await rejected(store.decideGate(gateId, { approved: false, by: "bob", reason: "no" }))).message).toContain(`gate ${gateId} is no longer pending: it was approved by alice`);
      expect(await store.getGate(gateId)).toMatchObject({ state: "approved", decidedBy: "alice", reason: null });
      expect((await store.listEvents({ runId: run.id })).filter((e) => e.type.startsWith("gate.") && e.type !== "gate.opened")).toHaveLength(1);
    });

    test("two stores deciding one gate at once: exactly one decision is recorded, the other is refused", async () => {
      const { store, another } = await open();
      const other = await another();
      const { gateId } = await runWaitingAtGate(store);
      const results = await Promise.allSettled([
        store.decideGate(gateId, { approved: true, by: "alice" }),
        other.decideGate(gateId, { approved: false, by: "bob", reason: "no" }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(GateNotPendingError);
      const gate = await store.getGate(gateId);
      expect(gate.decidedBy).toBe(gate.state === "approved" ? "alice" : "bob");
    });

    test("a gate timeout with onTimeout fail expires the gate at its time and fails its task with reason timeout, skipping its dependents", async () => {
      const { store, clock } = await open();
      const opened = clock.now();
      const { run, gateId, taskId } = await runWaitingAtGate(store, { question: "Go?", timeoutAt: clock.now() + 3_600_000 }, ["after"]);
      clock.advance(3_599_999);
      await store.claimTasks("sweeper", 0, 1_000);
      expect((await store.getGate(gateId)).state).toBe("pending");
      clock.advance(1);
      await store.claimTasks("sweeper", 0, 1_000);
      expect(await store.getGate(gateId)).toMatchObject({ state: "expired", decidedAt: clock.now() });
      expect(await store.getTask(taskId)).toMatchObject({ state: "failed", failReason: "timeout", error: { code: "gate_timeout" } });
      expect((await store.findTask(run.id, "after")).state).toBe("skipped");
      expect(await store.getRun(run.id)).toMatchObject({ state: "failed", tasksOpen: 0, tasksFailed: 2 });
      const [expired] = await eventsOf(store, "gate.expired", { runId: run.id });
      expect(expired).toMatchObject({ actor: "sweeper", taskId, data: { gate: gateId, question: "Go?", waitedMs: clock.now() - opened } });
      expect((await eventsOf(store, "task.failed", { runId: run.id }))[0]!.data).toMatchObject({ reason: "timeout", skipped: ["after"] });
      expect(await rejected(store.decideGate(gateId, { approved: true, by: "late" }))).toBeInstanceOf(GateNotPendingError);
    });

    test("an escalating gate past its timeout is marked overdue once, with one gate.overdue event, and stays pending for a person", async () => {
      const { store, clock } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store, { question: "Go?", timeoutAt: clock.now() + 600_000, onTimeout: "escalate" });
      clock.advance(600_000);
      await store.claimTasks("sweeper", 0, 1_000);
      const overdueAt = clock.now();
      clock.advance(600_000);
      await store.claimTasks("sweeper", 0, 1_000);
      expect(await store.getGate(gateId)).toMatchObject({ state: "pending", onTimeout: "escalate", overdueAt });
      expect((await store.getTask(taskId)).state).toBe("waiting");
      const overdue = await eventsOf(store, "gate.overdue", { runId: run.id });
      expect(overdue.map((e) => e.data)).toEqual([{ gate: gateId, question: "Go?", waitedMs: 600_000 }]);
      await store.decideGate(gateId, { approved: true, by: "dave" });
      expect((await store.getTask(taskId)).state).toBe("ready");
    });

    test("an unknown gate is NotFoundError, to read and to decide", async () => {
      const { store } = await open();
      expect(await rejected(store.getGate("gnope"))).toBeInstanceOf(NotFoundError);
      expect(await rejected(store.decideGate("gnope", { approved: true, by: "a" }))).toMatchObject({ code: "gate_not_found" });
    });

    test("a decision made through another store wakes the task for this one", async () => {
      const { store, another } = await open();
      const { gateId, taskId } = await runWaitingAtGate(store);
      await (await another()).decideGate(gateId, { approved: true, by: "alice" });
      expect((await store.getTask(taskId)).state).toBe("ready");
      expect(await claimOne(store)).toMatchObject({ taskId });
    });

    test("a decision racing the timeout sweep from another store ends the gate either decided or expired, never both", async () => {
      for (let round = 0; round < 10; round++) {
        const { store, another, clock } = await open();
        const other = await another();
        const { gateId, taskId } = await runWaitingAtGate(store, { timeoutAt: clock.now() + 1_000 });
        clock.advance(1_000);
        const [decided] = await Promise.allSettled([store.decideGate(gateId, { approved: true, by: "alice" }), other.claimTasks("sweeper", 0, 1_000)]);
        const gate = await store.getGate(gateId);
        const task = await store.getTask(taskId);
        if (decided.status === "fulfilled") {
          expect([gate.state, task.state]).toEqual(["approved", "ready"]);
        } else {
          expect(decided.reason).toBeInstanceOf(GateNotPendingError);
          expect([gate.state, task.state]).toEqual(["expired", "failed"]);
        }
        expect((await store.listEvents()).filter((e) => e.type === "gate.approved" || e.type === "gate.expired")).toHaveLength(1);
      }
    });

    test("cancelling the run closes its pending gates, decided by the canceller with the reason, and nobody can decide them afterwards", async () => {
      const { store, clock } = await open();
      const { run, gateId, taskId } = await runWaitingAtGate(store);
      await store.cancelRun(run.id, { actor: "carol", reason: "wrong branch" });
      expect(await store.getGate(gateId)).toMatchObject({ state: "cancelled", decidedBy: "carol", decidedAt: clock.now(), reason: "wrong branch" });
      expect(await store.listGates({ pendingOnly: true })).toEqual([]);
      const [cancelled] = await eventsOf(store, "gate.cancelled", { runId: run.id });
      expect(cancelled).toMatchObject({ actor: "carol", taskId, data: { gate: gateId } });
      expect(await rejected(store.decideGate(gateId, { approved: true, by: "dave" }))).toBeInstanceOf(GateNotPendingError);
    });

    test("a rejection with retry of a task no longer waiting at the gate keeps the task's journal", async () => {
      const { store } = await open();
      const { gateId, taskId, run } = await runWaitingAtGate(store);
      await store.cancelRun(run.id); // the task is no longer waiting
      const before = await store.listSteps(taskId);
      expect(before).toHaveLength(1);
      expect(await rejected(store.decideGate(gateId, { approved: false, by: "x", reason: "r", action: "retry" }))).toBeInstanceOf(GateNotPendingError);
      expect(await store.listSteps(taskId)).toEqual(before);
    });
  });
}
