/** Reads for viewers (the dashboard): run summaries, task counts, drones, and the tails of events and output. */
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimKey, claimOne, plan, runWaitingAtGate, step } from "./support.ts";

export function viewerContract(open: OpenDb): void {
  describe("reads for viewers", () => {
    test("readRunSummary gives the run, each task's summary as listTasks has it, and the run's gates, in one read", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b"], ["c", "a", "b"]));
      clock.advance(100);
      const a = await claimKey(store, "a", "w1");
      await store.completeTask(a.taskId, a.attemptId, { ok: true });
      clock.advance(50);
      const summary = await store.readRunSummary(run.id);
      const full = await store.listTasks(run.id);
      expect(summary.run).toEqual(await store.getRun(run.id));
      expect(summary.gates).toEqual([]);
      expect(summary.tasks.map((t) => t.key)).toEqual(["a", "b", "c"]);
      for (const task of summary.tasks) {
        const record = full.find((r) => r.id === task.id)!;
        const { attemptStartedAt, ...fields } = task;
        for (const [name, value] of Object.entries(fields)) expect([name, value] as unknown[]).toEqual([name, record[name as keyof typeof record]]);
        expect(attemptStartedAt).toBe(record.state === "running" ? clock.now() - 50 : null);
      }
      expect(summary.tasks.find((t) => t.key === "c")!.after).toEqual(["a", "b"]);
      expect(summary.tasks.find((t) => t.key === "b")!).toMatchObject({ state: "running", leaseOwner: "w1", attemptStartedAt: clock.now() - 50 });
    });

    test("readRunSummary with changedSince gives only the tasks changed at or after that time, and how many the run has", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b"], ["c", "a"]));
      clock.advance(1_000);
      const since = clock.now();
      const a = await claimKey(store, "a", "w", 10_000); // claims b too
      let changed = await store.readRunSummary(run.id, { changedSince: since });
      expect(changed.taskCount).toBe(3);
      expect(changed.tasks.map((t) => t.key)).toEqual(["a", "b"]);
      expect((await store.readRunSummary(run.id, { changedSince: since + 1 })).tasks).toEqual([]);
      clock.advance(1_000);
      const later = clock.now();
      await store.renewLeases("w", [{ taskId: a.taskId, attemptId: a.attemptId, leaseMs: 10_000 }]);
      expect((await store.readRunSummary(run.id, { changedSince: later })).tasks.map((t) => [t.key, t.leaseExpiresAt])).toEqual([["a", later + 10_000]]);
      clock.advance(1_000);
      await store.completeTask(a.taskId, a.attemptId, null);
      changed = await store.readRunSummary(run.id, { changedSince: clock.now() });
      // The completion, and the dependent it made ready, with its dependencies.
      expect(changed.tasks.map((t) => [t.key, t.state, t.after])).toEqual([["a", "succeeded", []], ["c", "ready", ["a"]]]);
      const full = await store.readRunSummary(run.id);
      expect(changed.tasks).toEqual(full.tasks.filter((t) => t.key === "a" || t.key === "c"));
      expect(full.taskCount).toBe(3);
    });

    test("readRunSummary lists the run's gates, and names a run that is not there", async () => {
      const { store } = await open();
      const { run, gateId } = await runWaitingAtGate(store);
      await runWaitingAtGate(store);
      expect((await store.readRunSummary(run.id)).gates.map((g) => [g.id, g.state, g.taskKey])).toEqual([[gateId, "pending", "ask"]]);
      // Without gates (a reader that reads them only on gate events): the tasks as ever, no gate.
      const withoutGates = await store.readRunSummary(run.id, { gates: false });
      expect(withoutGates.gates).toEqual([]);
      expect(withoutGates.tasks).toEqual((await store.readRunSummary(run.id)).tasks);
      expect((await store.readRunSummary(run.id, { gates: false, changedSince: 0 })).gates).toEqual([]);
      let error: unknown;
      try {
        await store.readRunSummary("r_missing");
      } catch (caught) {
        error = caught;
      }
      expect((error as { code?: string }).code).toBe("run_not_found");
    });

    test("countTasksByState counts each run's tasks by state, leaves the planning task out, and skips runs it does not know", async () => {
      const { store } = await open();
      const one = await store.createRun(plan(["a"], ["b"], ["c", "a"]));
      const a = await claimKey(store, "a");
      await store.completeTask(a.taskId, a.attemptId, null);
      const planning = await store.createPlanningRun("plan me", {});
      const counts = await store.countTasksByState([one.id, planning.id, "r_missing"]);
      expect(counts).toEqual({ [one.id]: { succeeded: 1, running: 1, ready: 1 } });
      expect(await store.countTasksByState([])).toEqual({});
    });

    test("listDrones shows each drone that holds a lease, with what it holds, and those seen since a time", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"], ["b"], ["c"]));
      const start = clock.now();
      const a = await claimOne(store, "host:1:d1", 10_000);
      await store.completeTask(a.taskId, a.attemptId, null);
      clock.advance(1_000);
      const b = await claimOne(store, "host:2:d1", 5_000);
      const drones = await store.listDrones({ since: start });
      expect(drones.map((d) => [d.id, d.leases.map((l) => l.key)])).toEqual([["host:1:d1", []], ["host:2:d1", ["b"]]]);
      expect(drones[1]!.leases[0]).toEqual({ taskId: b.taskId, runId: run.id, key: "b", attemptId: b.attemptId, leaseExpiresAt: clock.now() + 5_000, startedAt: clock.now(), heartbeatAt: clock.now() });
      expect(drones[1]!.lastHeartbeatAt).toBe(clock.now());
      expect(drones[0]!.lastHeartbeatAt).toBe(start);
      // Later: the first drone is no longer recent; the second still holds its (now expired, not reclaimed) lease.
      clock.advance(60_000);
      const later = await store.listDrones({ since: clock.now() - 10_000 });
      expect(later.map((d) => [d.id, d.leases.map((l) => [l.key, l.leaseExpiresAt < clock.now()])])).toEqual([["host:2:d1", [["b", true]]]]);
    });

    test("a renewed lease shows its new expiry and heartbeat", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store, "w", 5_000);
      clock.advance(2_000);
      expect(await store.renewLeases("w", [{ taskId: a.taskId, attemptId: a.attemptId, leaseMs: 5_000 }])).toEqual([]);
      const [drone] = await store.listDrones({ since: 0 });
      expect(drone!.lastHeartbeatAt).toBe(clock.now());
      expect(drone!.leases.map((l) => [l.leaseExpiresAt, l.heartbeatAt])).toEqual([[clock.now() + 5_000, clock.now()]]);
    });

    test("tailEvents gives the last events oldest first, of one run or of all, with the keys of the tasks they name", async () => {
      const { store } = await open();
      const one = await store.createRun(plan(["a"]));
      const two = await store.createRun(plan(["b"]));
      const a = await claimKey(store, "a");
      await store.completeTask(a.taskId, a.attemptId, null);
      const all = await store.listEvents({ limit: 1_000 });
      const tail = await store.tailEvents({ limit: 3 });
      expect(tail.events).toEqual(all.slice(-3));
      expect(tail.taskKeys[a.taskId]).toBe("a");
      const ofOne = await store.tailEvents({ runId: one.id, limit: 100 });
      expect(ofOne.events).toEqual(all.filter((e) => e.runId === one.id));
      expect((await store.tailEvents({ runId: two.id, limit: 1 })).events).toEqual(all.filter((e) => e.runId === two.id).slice(-1));
      expect(Object.values(ofOne.taskKeys)).toEqual(["a"]);
    });

    test("tailLogs gives a task's last lines of output, oldest first", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.appendLogs(a.taskId, a.attemptId, Array.from({ length: 6 }, (_, i) => ({ stream: "stdout" as const, text: `line ${i}\n` })));
      await store.recordStep(a.taskId, a.attemptId, step("s", 1));
      expect((await store.tailLogs(a.taskId, 2)).map((l) => l.text)).toEqual(["line 4\n", "line 5\n"]);
      expect((await store.tailLogs(a.taskId, 100)).map((l) => l.text)).toEqual((await store.listLogs(a.taskId)).map((l) => l.text));
      expect(await store.tailLogs(a.taskId + 1, 10)).toEqual([]);
    });

    test("a reader answers every viewer read while another store writes", async () => {
      const { store, reader } = await open();
      const view = await reader();
      const { run } = await runWaitingAtGate(store);
      expect((await view.readRunSummary(run.id)).gates).toHaveLength(1);
      expect(Object.keys(await view.countTasksByState([run.id]))).toEqual([run.id]);
      expect((await view.listDrones({ since: 0 })).map((d) => d.id)).toEqual(["w"]);
      expect((await view.tailEvents({ limit: 10 })).events.length).toBeGreaterThan(0);
    });
  });
}
