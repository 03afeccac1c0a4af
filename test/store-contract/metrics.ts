/** readMetrics: totals of the whole database, for /metrics, from what the store records (tasks, attempts, steps, gates, events). */
import { describe, expect, test } from "bun:test";
import type { MetricsOptions, Store } from "../../src/store/types.ts";
import { rejected } from "../helpers.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, plan, runWaitingAtGate, scheduleInput, step, tasks } from "./support.ts";

const BUCKETS: MetricsOptions = { stepBucketsMs: [10, 100, 1_000, 5_000], gateBucketsMs: [1_000, 60_000, 3_600_000] };
const MINUTE = 60_000;

/** Records a finished step that took `ms` (by the injected clock) under the task's lease. */
async function timedStep(store: Store, clock: { now(): number; advance(ms: number): void }, claimed: { taskId: number; attemptId: number }, key: string, seq: number, ms: number, kind = "step") {
  const startedAt = clock.now();
  clock.advance(ms);
  await store.recordStep(claimed.taskId, claimed.attemptId, step(key, seq, { kind, startedAt, endedAt: clock.now() }));
}

export function metricsContract(open: OpenDb): void {
  describe("metrics", () => {
    test("an empty database has zero of everything and no histogram rows", async () => {
      const { store } = await open();
      expect(await store.readMetrics(BUCKETS)).toEqual({
        runs: {}, tasks: [], claims: 0, attemptsEnded: {}, events: {}, schedules: [], gatesPending: 0, oldestPendingGateAt: null, gateWaits: [], stepDurations: [],
      });
    });

    test("counts tasks by workflow and state, claims, how attempts ended, completions and lease expiries of a known run", async () => {
      const { store, clock } = await open();
      await store.createRun(tasks({ id: "a" }, { id: "b", after: ["a"] }, { id: "c", workflow: "shell" }));
      const a = await claimOne(store, "w1", 10_000); // a before c: by id
      expect(a.key).toBe("a");
      const c = await claimOne(store, "w2", 1_000);
      expect(c.key).toBe("c");
      await timedStep(store, clock, a, "fetch", 1, 30);
      await timedStep(store, clock, a, "build", 2, 2_000);
      await store.completeTask(a.taskId, a.attemptId, null);
      clock.advance(5_000); // c's lease has expired: the next claim reclaims it
      const again = await store.claimTasks("w3", 10, 10_000);
      expect(again.map((t) => t.key).sort()).toEqual(["b", "c"]);
      const b = again.find((t) => t.key === "b")!;
      const c2 = again.find((t) => t.key === "c")!;
      await timedStep(store, clock, c2, "wait", 1, 5, "sleep");
      await store.failTask(b.taskId, b.attemptId, { message: "broken" }, { retryable: false });
      await store.completeTask(c2.taskId, c2.attemptId, null);

      const metrics = await store.readMetrics(BUCKETS);
      expect(metrics.runs).toEqual({ failed: 1 });
      expect(metrics.tasks).toEqual([
        { workflow: "noop", state: "failed", count: 1 },
        { workflow: "noop", state: "succeeded", count: 1 },
        { workflow: "shell", state: "succeeded", count: 1 },
      ]);
      expect(metrics.claims).toBe(4); // a, c, then b and c again
      expect(metrics.attemptsEnded).toEqual({ succeeded: 2, failed: 1, crashed: 1 });
      expect(metrics.events).toMatchObject({ "task.started": 4, "task.succeeded": 2, "task.failed": 1, "task.lease_expired": 1, "run.created": 1, "run.failed": 1 });
      expect(metrics.stepDurations).toEqual([
        { kind: "sleep", histogram: { boundsMs: [10, 100, 1_000, 5_000], cumulative: [1, 1, 1, 1], count: 1, sumMs: 5 } },
        // 30 ms is under the 100 ms bound, 2 s under the 5 s one
        { kind: "step", histogram: { boundsMs: [10, 100, 1_000, 5_000], cumulative: [0, 1, 1, 2], count: 2, sumMs: 2_030 } },
      ]);
    });

    test("a step still waiting (a gate, a sleep) is not a duration; a step longer than the last bound counts only in the total", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await timedStep(store, clock, a, "long", 1, 9_000);
      await store.recordStep(a.taskId, a.attemptId, step("later", 2, { kind: "sleep", status: "waiting", startedAt: clock.now(), endedAt: null }));
      const { stepDurations } = await store.readMetrics(BUCKETS);
      expect(stepDurations).toEqual([{ kind: "step", histogram: { boundsMs: [10, 100, 1_000, 5_000], cumulative: [0, 0, 0, 0], count: 1, sumMs: 9_000 } }]);
    });

    test("gate waits: decided gates by outcome as a histogram, and the pending ones with the oldest's opening time", async () => {
      const { store, clock } = await open();
      const first = await runWaitingAtGate(store);
      clock.advance(30 * MINUTE);
      await store.decideGate(first.gateId, { approved: true, by: "alice" });
      const second = await runWaitingAtGate(store);
      clock.advance(500);
      await store.decideGate(second.gateId, { approved: false, by: "bob", reason: "no" });
      const openedAt = clock.now();
      await runWaitingAtGate(store);
      clock.advance(MINUTE);
      await runWaitingAtGate(store);
      const metrics = await store.readMetrics(BUCKETS);
      expect(metrics.gatesPending).toBe(2);
      expect(metrics.oldestPendingGateAt).toBe(openedAt);
      expect(metrics.gateWaits).toEqual([
        { state: "approved", histogram: { boundsMs: [1_000, 60_000, 3_600_000], cumulative: [0, 0, 1], count: 1, sumMs: 30 * MINUTE } },
        { state: "rejected", histogram: { boundsMs: [1_000, 60_000, 3_600_000], cumulative: [1, 1, 1], count: 1, sumMs: 500 } },
      ]);
    });

    test("schedule decisions by schedule: fires, skips, failures, and missed slots counted by the slots they cover", async () => {
      const { store, clock } = await open();
      const slow = await store.createSchedule(scheduleInput("slow", { overlap: "skip" }), "t");
      const other = await store.createSchedule(scheduleInput("other"), "t");
      const fire = (scheduleId: string, slot: number, fields: { error?: string } = {}) =>
        store.fireSchedule({ scheduleId, slot, actor: "sched", goal: "g", planningInput: { goal: "g", review: "none" }, ...fields });
      const base = clock.now();
      expect((await fire(slow.id, base + MINUTE)).outcome).toBe("fired");
      expect((await fire(slow.id, base + 2 * MINUTE)).outcome).toBe("skipped"); // the first run is unfinished
      expect((await fire(slow.id, base + 3 * MINUTE)).outcome).toBe("skipped");
      expect((await fire(other.id, base + MINUTE, { error: "goal file gone" })).outcome).toBe("failed");
      expect(await store.recordScheduleMissed(other.id, base + 10 * MINUTE, 7, "latest", "sched")).toBe(true);
      expect(await store.recordScheduleMissed(other.id, base + 20 * MINUTE, 2, "latest", "sched")).toBe(true);
      const { schedules } = await store.readMetrics(BUCKETS);
      expect(schedules).toEqual([
        { schedule: "other", decision: "failed", count: 1, slots: 1 },
        { schedule: "other", decision: "missed", count: 2, slots: 9 },
        { schedule: "slow", decision: "fired", count: 1, slots: 1 },
        { schedule: "slow", decision: "skipped", count: 2, slots: 2 },
      ]);
    });

    test("reads the same from another connection and from a read-only store", async () => {
      const { store, another, reader } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const a = await claimOne(store);
      await store.completeTask(a.taskId, a.attemptId, null);
      const mine = await store.readMetrics(BUCKETS);
      expect(await (await another()).readMetrics(BUCKETS)).toEqual(mine);
      expect(await (await reader()).readMetrics(BUCKETS)).toEqual(mine);
    });

    test("bucket bounds that are not ascending are refused", async () => {
      const { store } = await open();
      const error = await rejected(store.readMetrics({ stepBucketsMs: [100, 10], gateBucketsMs: [] }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe("stepBucketsMs must be finite and ascending (got 100, 10)");
    });
  });
}
