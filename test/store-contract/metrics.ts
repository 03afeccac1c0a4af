/** readMetrics: totals of the whole database, for /metrics, from what the store records (tasks, attempts, gates, events). */
import { describe, expect, test } from "bun:test";
import type { MetricsOptions, MetricsSnapshot, Store } from "../../src/store/types.ts";
import { rejected } from "../helpers.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, plan, runWaitingAtGate, scheduleInput, step, tasks } from "./support.ts";

const BUCKETS: MetricsOptions = { attemptBucketsMs: [10, 100, 1_000, 5_000], gateBucketsMs: [1_000, 60_000, 3_600_000] };
const MINUTE = 60_000;

/** Records a finished step that took `ms` (by the injected clock) under the task's lease. */
async function timedStep(store: Store, clock: { now(): number; advance(ms: number): void }, claimed: { taskId: number; attemptId: number }, key: string, seq: number, ms: number, kind = "step") {
  const startedAt = clock.now();
  clock.advance(ms);
  await store.recordStep(claimed.taskId, claimed.attemptId, step(key, seq, { kind, startedAt, endedAt: clock.now() }));
}

/** The snapshot's fields that are gauges (the tables as they are now); everything else must only grow. */
const GAUGES = new Set(["runs", "tasks", "gatesPending", "oldestPendingGateAt"]);

/**
 * Every number of the snapshot that /metrics exposes as a counter or a
 * histogram, keyed by where it is: a list's entries by their string fields
 * (the labels), a histogram's buckets by position. Walks whatever the snapshot
 * holds, so a figure added later is checked too unless it is named a gauge.
 */
function counterValues(snapshot: MetricsSnapshot): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (value: unknown, path: string): void => {
    if (typeof value === "number") out.set(path, value);
    else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const labels = item !== null && typeof item === "object" ? Object.entries(item).filter(([, v]) => typeof v === "string").map(([k, v]) => `${k}=${v}`) : [];
        walk(item, `${path}[${labels.length > 0 ? labels.join(",") : i}]`);
      });
    } else if (value !== null && typeof value === "object") for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`);
  };
  for (const [field, value] of Object.entries(snapshot)) if (!GAUGES.has(field)) walk(value, field);
  return out;
}

/** Fails naming each counter or histogram figure that went down (or vanished) between two reads. */
function expectNoCounterDecreased(before: MetricsSnapshot, after: MetricsSnapshot, what: string): void {
  const next = counterValues(after);
  const decreased = [...counterValues(before)].filter(([path, value]) => !((next.get(path) ?? -Infinity) >= value)).map(([path, value]) => `${path}: ${value} -> ${next.get(path) ?? "gone"}`);
  expect({ what, decreased }).toEqual({ what, decreased: [] });
}

export function metricsContract(open: OpenDb): void {
  describe("metrics", () => {
    test("an empty database has zero of everything and no histogram rows", async () => {
      const { store } = await open();
      expect(await store.readMetrics(BUCKETS)).toEqual({
        runs: {}, tasks: [], claims: 0, attemptsEnded: {}, events: {}, schedules: [], gatesPending: 0, oldestPendingGateAt: null, gateWaits: [], attemptDurations: [],
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
      const bounds = [10, 100, 1_000, 5_000];
      expect(metrics.attemptDurations).toEqual([
        { workflow: "noop", state: "failed", histogram: { boundsMs: bounds, cumulative: [1, 1, 1, 1], count: 1, sumMs: 5 } }, // b: claimed, failed 5 ms later
        // a held its lease for its two steps: 2.03 s, under the 5 s bound
        { workflow: "noop", state: "succeeded", histogram: { boundsMs: bounds, cumulative: [0, 0, 0, 1], count: 1, sumMs: 2_030 } },
        // c's first attempt ended when it was reclaimed, past the last bound: in the count and sum only
        { workflow: "shell", state: "crashed", histogram: { boundsMs: bounds, cumulative: [0, 0, 0, 0], count: 1, sumMs: 7_030 } },
        { workflow: "shell", state: "succeeded", histogram: { boundsMs: bounds, cumulative: [1, 1, 1, 1], count: 1, sumMs: 5 } },
      ]);
    });

    test("an attempt still running is not a duration; one that suspended counts up to its suspension", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const a = await claimOne(store);
      const b = await claimOne(store);
      clock.advance(400);
      await store.suspendTask(a.taskId, a.attemptId, { reason: "sleep", until: clock.now() + MINUTE });
      clock.advance(MINUTE);
      const { attemptDurations } = await store.readMetrics(BUCKETS);
      expect(attemptDurations).toEqual([{ workflow: "noop", state: "suspended", histogram: { boundsMs: [10, 100, 1_000, 5_000], cumulative: [0, 0, 1, 1], count: 1, sumMs: 400 } }]);
      await store.completeTask(b.taskId, b.attemptId, null);
      expect((await store.readMetrics(BUCKETS)).attemptDurations.map((d) => [d.state, d.histogram.sumMs])).toEqual([["succeeded", MINUTE + 400], ["suspended", 400]]);
    });

    test("gate waits: decided gates of runs by outcome as a histogram (not a schedule's approval gate), and the pending ones with the oldest's opening time", async () => {
      const { store, clock } = await open();
      await store.createSchedule(scheduleInput("frozen", { approval: { question: "Run it?", evidence: null } }), "alice");
      const [scheduleGate] = await store.listGates({ pendingOnly: true });
      clock.advance(MINUTE);
      await store.decideGate(scheduleGate!.id, { approved: true, by: "bob" }); // removable with its schedule: not counted
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

    test("no counter or histogram goes down when the store deletes rows: a retry, a resume, a reject with retry, a schedule removed", async () => {
      const { store, clock } = await open();
      let last = await store.readMetrics(BUCKETS);
      const check = async (what: string) => {
        const now = await store.readMetrics(BUCKETS);
        expectNoCounterDecreased(last, now, what);
        last = now;
      };

      // A task that fails twice: the retry drops the failed step from the journal, the resume the second one.
      const flaky = await store.createRun(tasks({ id: "flaky", retries: 1 }));
      const first = await claimOne(store);
      await timedStep(store, clock, first, "call", 1, 40);
      await store.recordStep(first.taskId, first.attemptId, step("fetch", 2, { status: "failed", startedAt: clock.now(), endedAt: clock.now() + 20 }));
      clock.advance(20);
      await check("a step failed");
      expect((await store.failTask(first.taskId, first.attemptId, { message: "flaky" })).state).toBe("ready");
      await check("a failed attempt scheduled a retry");
      clock.advance(MINUTE); // past the backoff
      const second = await claimOne(store);
      await store.recordStep(second.taskId, second.attemptId, step("fetch", 2, { status: "failed", startedAt: clock.now(), endedAt: clock.now() + 300 }));
      clock.advance(300);
      expect((await store.failTask(second.taskId, second.attemptId, { message: "flaky again" })).state).toBe("failed");
      await check("the task failed for good");
      expect((await store.resumeRun(flaky.id)).reopened).toBe(1);
      await check("the run was resumed");
      const third = await claimOne(store);
      await store.completeTask(third.taskId, third.attemptId, null);

      // A task rejected at its gate with retry: its whole journal is cleared.
      const gated = await store.createRun(tasks({ id: "ship" }));
      const asking = await claimOne(store);
      expect(asking.runId).toBe(gated.id);
      await timedStep(store, clock, asking, "build", 1, 2_000);
      await store.suspendTask(asking.taskId, asking.attemptId, {
        reason: 'approval "approve"',
        step: step("approve", 2, { kind: "approval", status: "waiting", output: { gateId: "g-ship" }, startedAt: clock.now(), endedAt: null }),
        gate: { id: "g-ship", stepKey: "approve", question: "Ship?", askedBy: "w" },
      });
      clock.advance(30_000);
      await check("a task suspended at a gate");
      await store.decideGate("g-ship", { approved: false, by: "bob", reason: "redo it", action: "retry" });
      await check("the gate was rejected with retry");
      const redo = await claimOne(store);
      expect(redo.key).toBe("ship");
      await store.completeTask(redo.taskId, redo.attemptId, null);

      // A task rejected for good: resuming its run drops the recorded rejection.
      const refused = await store.createRun(tasks({ id: "deploy" }));
      const asked = await claimOne(store);
      expect(asked.runId).toBe(refused.id);
      await store.suspendTask(asked.taskId, asked.attemptId, {
        reason: 'approval "approve"',
        step: step("approve", 1, { kind: "approval", status: "waiting", output: { gateId: "g-deploy" }, startedAt: clock.now(), endedAt: null }),
        gate: { id: "g-deploy", stepKey: "approve", question: "Deploy?", askedBy: "w" },
      });
      const askedAt = clock.now();
      clock.advance(5_000);
      await store.decideGate("g-deploy", { approved: false, by: "bob", reason: "not today" });
      const replay = await claimOne(store);
      await store.recordStep(replay.taskId, replay.attemptId, step("approve", 1, { kind: "approval", output: { gateId: "g-deploy", decision: { approved: false, reason: "not today" } }, startedAt: askedAt, endedAt: clock.now() }));
      await store.failTask(replay.taskId, replay.attemptId, { message: "rejected: not today", code: "gate_rejected" }, { retryable: false, reason: "rejected" });
      await check("a rejected task failed");
      expect((await store.resumeRun(refused.id)).reopened).toBe(1);
      await check("the rejected task's run was resumed");

      // A schedule held at an approval gate, rejected, then removed with its gate.
      await store.createSchedule(scheduleInput("frozen", { approval: { question: "Run it?", evidence: null } }), "alice");
      const [scheduleGate] = (await store.listGates({ pendingOnly: true })).filter((g) => g.scheduleName === "frozen");
      clock.advance(MINUTE);
      await store.decideGate(scheduleGate!.id, { approved: false, by: "bob", reason: "too broad" });
      await check("a schedule's gate was rejected");
      await store.deleteSchedule("frozen", "alice");
      await check("the schedule was removed");

      // Not vacuous: the events and attempts of all of that are counted.
      expect(last.claims).toBe(7);
      expect(last.attemptDurations.reduce((n, d) => n + d.histogram.count, 0)).toBe(7); // every attempt ended
      expect(last.gateWaits.map((g) => [g.state, g.histogram.count])).toEqual([["rejected", 2]]); // ship's and deploy's; the schedule's is not counted
      expect(last.events).toMatchObject({ "task.retry_scheduled": 1, "gate.rejected": 3 });
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
      const error = await rejected(store.readMetrics({ attemptBucketsMs: [100, 10], gateBucketsMs: [] }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe("attemptBucketsMs must be finite and ascending (got 100, 10)");
    });
  });
}
