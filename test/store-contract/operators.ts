/** Reads for operators (`farcaster workers`, `farcaster doctor`): open tasks and what they wait on, the workflows drones ran, the database. */
import { describe, expect, test } from "bun:test";
import { rejected } from "../helpers.ts";
import type { OpenDb } from "./harness.ts";
import { claimKey, claimOne, gateRequest, step, tasks } from "./support.ts";

export function operatorContract(open: OpenDb): void {
  describe("reads for operators", () => {
    test("listOpenTasks gives every unfinished task of unfinished runs with what it waits on: lease, timer, event, gate or dependencies", async () => {
      const { store, clock, reader } = await open();
      const finished = await store.createRun(tasks({ id: "only" }));
      const only = await claimKey(store, "only", "w2");
      await store.completeTask(only.taskId, only.attemptId, null);
      const run = await store.createRun(
        tasks({ id: "held" }, { id: "nap" }, { id: "hear" }, { id: "ask" }, { id: "done" }, { id: "queued" }, { id: "later", after: ["done", "held"] }),
      );
      const start = clock.now();
      const claimed = await store.claimTasks("w1", 5, 10_000);
      expect(claimed.map((c) => c.key)).toEqual(["held", "nap", "hear", "ask", "done"]);
      const [, nap, hear, ask, done] = claimed;
      clock.advance(100);
      await store.suspendTask(nap!.taskId, nap!.attemptId, { until: clock.now() + 60_000, reason: "sleep" });
      await store.suspendTask(hear!.taskId, hear!.attemptId, { reason: "event", waitingFor: "deploy.done" });
      const gate = gateRequest("g-ops");
      await store.suspendTask(ask!.taskId, ask!.attemptId, {
        reason: "approval",
        step: step(gate.stepKey, 1, { kind: "approval", status: "waiting", output: { gateId: gate.id }, endedAt: null }),
        gate,
      });
      await store.completeTask(done!.taskId, done!.attemptId, null);

      const open_ = await store.listOpenTasks({ limit: 100 });
      expect(open_.every((t) => t.runId === run.id)).toBe(true);
      const byKey = Object.fromEntries(open_.map((t) => [t.key, t]));
      expect(Object.keys(byKey)).toEqual(["held", "nap", "hear", "ask", "queued", "later"]);
      expect(byKey.held).toMatchObject({ state: "running", leaseOwner: "w1", leaseExpiresAt: start + 10_000, workflow: "noop", after: [] });
      expect(byKey.nap).toMatchObject({ state: "waiting", availableAt: clock.now() + 60_000, waitingFor: null, leaseOwner: null, updatedAt: clock.now() });
      expect(byKey.hear).toMatchObject({ state: "waiting", availableAt: null, waitingFor: "deploy.done" });
      expect(byKey.ask).toMatchObject({ state: "waiting", availableAt: null, waitingFor: null });
      expect(byKey.queued).toMatchObject({ state: "ready", availableAt: start, leaseExpiresAt: null });
      expect(byKey.later).toMatchObject({ state: "blocked", after: ["done", "held"] });

      expect((await store.listOpenTasks({ limit: 2 })).map((t) => t.key)).toEqual(["held", "nap"]);
      expect(await store.listOpenTasks({ runId: finished.id, limit: 100 })).toEqual([]);
      expect((await store.listOpenTasks({ runId: run.id, limit: 100 })).map((t) => t.key)).toEqual(Object.keys(byKey));
      expect(await (await reader()).listOpenTasks({ limit: 100 })).toEqual(open_);
      expect(((await rejected(store.listOpenTasks({ runId: "r_missing", limit: 1 }))) as { code?: string }).code).toBe("run_not_found");
    });

    test("countOtherLeaseHolders counts the other drones holding a lease that has not expired: not the asker, not a finished or expired lease", async () => {
      const { store, clock, reader } = await open();
      await store.createRun(tasks({ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }));
      expect(await store.countOtherLeaseHolders("w1")).toBe(0);
      await claimOne(store, "w1", 10_000);
      await claimOne(store, "w1", 10_000); // two leases, one drone
      expect(await store.countOtherLeaseHolders("w1")).toBe(0);
      expect(await store.countOtherLeaseHolders("w2")).toBe(1);
      const short = await claimOne(store, "w2", 1_000);
      const done = await claimOne(store, "w3", 10_000);
      expect(await store.countOtherLeaseHolders("w1")).toBe(2);
      await store.completeTask(done.taskId, done.attemptId, null);
      expect(await store.countOtherLeaseHolders("w1")).toBe(1);
      clock.advance(1_000); // w2's lease expires (a crashed drone counts until then)
      expect(short.leaseExpiresAt).toBe(clock.now());
      expect(await store.countOtherLeaseHolders("w1")).toBe(0);
      expect(await store.countOtherLeaseHolders("w2")).toBe(1);
      expect(await (await reader()).countOtherLeaseHolders("w2")).toBe(1);
    });

    test("listDrones withWorkflows names the workflows each drone's recent attempts ran and its leases run; without it there are none", async () => {
      const { store, clock } = await open();
      await store.createRun(tasks({ id: "a", workflow: "noop" }, { id: "b", workflow: "shell", input: { command: "true" } }, { id: "c", workflow: "review", input: { question: "ok?" } }));
      const a = await claimOne(store, "w1");
      await store.completeTask(a.taskId, a.attemptId, null);
      expect((await claimOne(store, "w2", 120_000)).key).toBe("b");
      clock.advance(60_000);
      const since = clock.now();
      expect((await claimOne(store, "w1")).key).toBe("c");
      const drones = await store.listDrones({ since: 0, withWorkflows: true });
      expect(drones.map((d) => [d.id, d.workflows])).toEqual([["w1", ["noop", "review"]], ["w2", ["shell"]]]);
      // Seen since a later time: w1 by its recent attempt only; w2 by the lease it still holds.
      expect((await store.listDrones({ since, withWorkflows: true })).map((d) => [d.id, d.workflows])).toEqual([["w1", ["review"]], ["w2", ["shell"]]]);
      expect((await store.listDrones({ since: 0 })).map((d) => d.workflows)).toEqual([undefined, undefined]);
    });

    test("listDrones withWorkflows names the workflows a drone's recent attempts finished successfully: not those that failed, nor those it still runs", async () => {
      const { store, clock, reader } = await open();
      await store.createRun(tasks({ id: "a", workflow: "noop" }, { id: "b", workflow: "shell", input: { command: "true" } }, { id: "c", workflow: "review", input: { question: "ok?" } }, { id: "d", workflow: "noop" }));
      const a = await claimOne(store, "w1");
      await store.completeTask(a.taskId, a.attemptId, null);
      const b = await claimOne(store, "w1");
      await store.failTask(b.taskId, b.attemptId, { message: "no" }, { retryable: false });
      await claimOne(store, "w1");
      const d = await claimOne(store, "w2");
      await store.completeTask(d.taskId, d.attemptId, null);
      const drones = await store.listDrones({ since: 0, withWorkflows: true });
      expect(drones.map((x) => [x.id, x.workflows, x.succeededWorkflows])).toEqual([["w1", ["noop", "review", "shell"], ["noop"]], ["w2", ["noop"], ["noop"]]]);
      expect(await (await reader()).listDrones({ since: 0, withWorkflows: true })).toEqual(drones);
      // Successes older than `since` are not recent evidence.
      clock.advance(60_000);
      expect((await store.listDrones({ since: clock.now(), withWorkflows: true })).map((x) => [x.id, x.succeededWorkflows])).toEqual([["w1", []]]);
      expect((await store.listDrones({ since: 0 })).map((x) => x.succeededWorkflows)).toEqual([undefined, undefined]);
    });

    test("describeDatabase names the dialect and a schema at the code's latest version", async () => {
      const { store, reader } = await open();
      const info = await store.describeDatabase();
      expect(info.dialect).toBe(store.dialect);
      expect(info.schemaVersion).toBeGreaterThan(0);
      expect(info.schemaVersion).toBe(info.latestVersion);
      const viewed = await (await reader()).describeDatabase();
      expect(viewed.schemaVersion).toBe(info.schemaVersion);
      if (info.dialect === "sqlite") {
        expect(info.journalMode).toBe("wal");
        expect(info.fileBytes).toBeGreaterThan(0);
        expect(info.syncMode).toBe("normal");
      } else {
        expect(info.serverVersion).toMatch(/^\d+/);
        expect(info.schema.length).toBeGreaterThan(0);
      }
    });
  });
}
