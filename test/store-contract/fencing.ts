/**
 * Fencing: every write made for a running task names its attempt, and is
 * refused (LeaseLostError, nothing changed) once that attempt no longer holds
 * the task, however it lost it. Output of such an attempt is dropped.
 */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import { LeaseLostError } from "../../src/core/errors.ts";
import type { ClaimedTask, Store } from "../../src/store/types.ts";
import type { ContractDb, OpenDb } from "./harness.ts";
import { claimOne, gateRequest, observe, step, tasks } from "./support.ts";

/** Tries every write a drone makes for its task; each must be refused and none may change anything. */
async function expectFenced(writer: Store, observer: Store, claimed: ClaimedTask, now: number): Promise<void> {
  const { taskId, attemptId } = claimed;
  const before = await observe(observer, claimed.runId);
  const refused = [
    () => writer.extendLease(taskId, attemptId, 1_000),
    () => writer.recordStep(taskId, attemptId, step("late", 9, { output: "stale" })),
    () => writer.completeTask(taskId, attemptId, "stale"),
    () => writer.failTask(taskId, attemptId, { message: "stale failure" }),
    () => writer.failTask(taskId, attemptId, { message: "stale failure" }, { retryable: false }),
    () => writer.suspendTask(taskId, attemptId, {
      reason: "stale sleep",
      until: now + 1_000,
      step: step("nap", 10, { kind: "sleep", status: "waiting", endedAt: null }),
      gate: gateRequest(`g-stale-${attemptId}`),
    }),
    () => writer.suspendTask(taskId, attemptId, { reason: "stale wait", waitingFor: "never" }),
    () => writer.releaseTask(taskId, attemptId),
  ];
  for (const write of refused) expect(await rejected(write())).toBeInstanceOf(LeaseLostError);
  expect((await rejected(writer.completeTask(taskId, attemptId, "stale"))).message).toContain(`attempt ${attemptId} no longer holds the lease on task ${taskId}`);
  expect(await rejected(writer.completeTask(taskId, attemptId, "stale"))).toMatchObject({ code: "lease_lost" });
  expect(await writer.appendLogs(taskId, attemptId, [{ stream: "stdout", text: "late output\n" }])).toBe(0);
  expect(await observe(observer, claimed.runId)).toEqual(before);
}

type Ending = (db: ContractDb, claimed: ClaimedTask) => Promise<unknown>;

const ENDINGS: [string, Ending][] = [
  ["after its lease expired and another worker reclaimed the task", async ({ store, clock }) => {
    clock.advance(10_001);
    await claimOne(store, "thief");
  }],
  ["after its lease expired and an upkeep pass reclaimed the task", async ({ store, clock }) => {
    clock.advance(10_001);
    await store.claimTasks("upkeep", 0, 10_000);
  }],
  ["after its run was cancelled", ({ store }, claimed) => store.cancelRun(claimed.runId, { reason: "wrong goal" })],
  ["after it completed the task", ({ store }, claimed) => store.completeTask(claimed.taskId, claimed.attemptId, "done")],
  ["after it failed and the task waits for its retry", ({ store }, claimed) => store.failTask(claimed.taskId, claimed.attemptId, { message: "flake" })],
  ["after it failed the task for good", ({ store }, claimed) => store.failTask(claimed.taskId, claimed.attemptId, { message: "bad" }, { retryable: false })],
  ["after it suspended the task", ({ store }, claimed) => store.suspendTask(claimed.taskId, claimed.attemptId, { reason: "gate" })],
  ["after it released the task", ({ store }, claimed) => store.releaseTask(claimed.taskId, claimed.attemptId)],
  ["after it released the task and another worker claimed it", async ({ store }, claimed) => {
    await store.releaseTask(claimed.taskId, claimed.attemptId);
    await claimOne(store, "next");
  }],
];

export function fencingContract(open: OpenDb): void {
  describe("fencing", () => {
    for (const [how, end] of ENDINGS) {
      test(`an attempt can no longer heartbeat, journal, complete, fail, suspend, release or log ${how}; nothing changes`, async () => {
        const db = await open();
        await db.store.createRun(tasks({ id: "a", retries: 1 }, { id: "b", after: ["a"] }));
        const stale = await claimOne(db.store, "old");
        await db.store.recordStep(stale.taskId, stale.attemptId, step("kept", 1, { output: 1 }));
        await end(db, stale);
        // The stale drone is another process: its writes come through another connection.
        await expectFenced(await db.another(), db.store, stale, db.clock.now());
      });
    }

    test("the attempt that reclaimed a task still holds it after a stale attempt was refused, and completes it", async () => {
      const { store, clock } = await open();
      await store.createRun(tasks({ id: "a" }));
      const stale = await claimOne(store, "w1", 1_000);
      clock.advance(2_000);
      const fresh = await claimOne(store, "w2", 1_000);
      expect(await rejected(store.completeTask(stale.taskId, stale.attemptId, "stale"))).toBeInstanceOf(LeaseLostError);
      await store.recordStep(fresh.taskId, fresh.attemptId, step("s", 1, { output: "fresh" }));
      expect(await store.appendLogs(fresh.taskId, fresh.attemptId, [{ stream: "stdout", text: "fresh\n" }])).toBe(1);
      await store.completeTask(fresh.taskId, fresh.attemptId, "fresh");
      expect(await store.getTask(stale.taskId)).toMatchObject({ state: "succeeded", output: "fresh", attempts: 2, crashes: 1 });
      expect((await store.listSteps(stale.taskId)).map((s) => [s.key, s.attemptId])).toEqual([["s", fresh.attemptId]]);
      expect((await store.listAttempts(stale.taskId)).map((a) => [a.worker, a.state])).toEqual([["w1", "crashed"], ["w2", "succeeded"]]);
    });

    test("a lease that expired but that nobody reclaimed yet still holds: the fence is the attempt, not the clock", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(tasks({ id: "a" }));
      const late = await claimOne(store, "w", 1_000);
      clock.advance(5_000);
      expect(await store.extendLease(late.taskId, late.attemptId, 1_000)).toBe(clock.now() + 1_000);
      await store.recordStep(late.taskId, late.attemptId, step("s", 1));
      expect(await store.completeTask(late.taskId, late.attemptId, "made it")).toEqual({ unblocked: 0, runState: "succeeded" });
      expect((await store.getRun(run.id)).state).toBe("succeeded");
    });

    test("completing twice is refused: the second call no longer holds the lease, and the first output stands", async () => {
      const { store } = await open();
      await store.createRun(tasks({ id: "a" }));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, 1);
      expect(await rejected(store.completeTask(a.taskId, a.attemptId, 2))).toBeInstanceOf(LeaseLostError);
      expect((await store.getTask(a.taskId)).output).toBe(1);
    });

    test("a write for a task that does not exist is refused like a stale one", async () => {
      const { store } = await open();
      expect(await rejected(store.completeTask(424_242, 1, null))).toBeInstanceOf(LeaseLostError);
      expect(await rejected(store.extendLease(424_242, 1, 1_000))).toBeInstanceOf(LeaseLostError);
      expect(await store.appendLogs(424_242, 1, [{ stream: "info", text: "x" }])).toBe(0);
    });

    test("writes started together on one store stand or fall each on its own: a refused write undoes none of the others", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(tasks(...Array.from({ length: 6 }, (_, i) => ({ id: `t${i}` }))));
      const [stale] = await store.claimTasks("w", 6, 1_000);
      clock.advance(1_001);
      await store.claimTasks("upkeep", 0, 1_000); // every lease of the first claim is reclaimed
      const held = await store.claimTasks("w2", 6, 10_000);
      const byKey = new Map(held.map((c) => [c.key, c]));
      await store.recordStep(byKey.get("t1")!.taskId, byKey.get("t1")!.attemptId, step("once", 1));
      const results = await Promise.allSettled([
        store.completeTask(byKey.get("t2")!.taskId, byKey.get("t2")!.attemptId, "two"),
        store.completeTask(stale!.taskId, stale!.attemptId, "stale"),
        store.recordStep(byKey.get("t1")!.taskId, byKey.get("t1")!.attemptId, step("once", 1, { output: "again" })),
        store.completeTask(byKey.get("t3")!.taskId, byKey.get("t3")!.attemptId, "three"),
        store.createRun({ goal: "g", tasks: [{ id: "x", title: "x", workflow: "noop", input: { n: 10n } }] }),
        store.appendLogs(byKey.get("t4")!.taskId, byKey.get("t4")!.attemptId, [{ stream: "stdout", text: "kept\n" }]),
        store.failTask(byKey.get("t5")!.taskId, byKey.get("t5")!.attemptId, { message: "no" }),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
      const byState = Object.fromEntries((await store.listTasks(run.id)).map((t) => [t.key, [t.state, t.output]]));
      expect(byState).toEqual({ t0: ["running", null], t1: ["running", null], t2: ["succeeded", "two"], t3: ["succeeded", "three"], t4: ["running", null], t5: ["failed", null] });
      expect((await store.listLogs(byKey.get("t4")!.taskId)).map((l) => l.text)).toEqual(["kept\n"]);
      expect((await store.listSteps(byKey.get("t1")!.taskId)).map((s) => s.output)).toEqual([null]);
      expect(await store.listRuns()).toHaveLength(1);
    });
  });
}
