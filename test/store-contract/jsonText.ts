/**
 * JSON values hold what some databases will not look inside: a NUL (the
 * escape \u0000) and a lone surrogate (\ud800, a string cut in the middle of
 * an emoji, as a model's truncated output or a JSON body may hold). Both are
 * kept exactly as written, and every read that looks inside JSON (a run's
 * budget, resuming past a rejection, schedule metrics and history) still
 * answers: one such value must not make a run or the metrics unreadable.
 */
import { describe, expect, test } from "bun:test";
import type { MetricsOptions } from "../../src/store/types.ts";
import type { OpenDb } from "./harness.ts";
import { claimOne, scheduleInput, step, tasks } from "./support.ts";

const LONE = "\ud800";
const BUCKETS: MetricsOptions = { attemptBucketsMs: [1_000], gateBucketsMs: [1_000] };

export function jsonTextContract(open: OpenDb): void {
  describe("JSON that holds a NUL or a lone surrogate", () => {
    test("a task input holding both is kept exactly, and the run's budget (read from inside the plan) still reads", async () => {
      const { store } = await open();
      const input = { note: `cut ${LONE} here`, pair: "😀", nul: "a\u0000b", escaped: `\\ud800 \\${LONE}`, [`key${LONE}`]: 1 };
      const run = await store.createRun({ ...tasks({ id: "a", input }), budget: { turns: 3 } });
      expect(await store.runBudget(run.id)).toEqual({ turns: 3 });
      expect((await store.listTasks(run.id))[0]!.input).toEqual(input);
    });

    test("a rejection whose reason holds a lone surrogate is forgotten on resume like any other", async () => {
      const { store } = await open();
      const run = await store.createRun(tasks({ id: "ship" }));
      const first = await claimOne(store);
      await store.suspendTask(first.taskId, first.attemptId, {
        reason: 'approval "approve"',
        step: step("approve", 1, { kind: "approval", status: "waiting", output: { gateId: "g-cut" }, endedAt: null }),
        gate: { id: "g-cut", stepKey: "approve", question: "Ship?", askedBy: "w" },
      });
      const reason = `no ${LONE}`;
      await store.decideGate("g-cut", { approved: false, by: "bob", reason });
      const second = await claimOne(store);
      await store.recordStep(second.taskId, second.attemptId, step("approve", 1, { kind: "approval", output: { gateId: "g-cut", decision: { approved: false, reason } } }));
      await store.failTask(second.taskId, second.attemptId, { message: `rejected: ${reason}`, code: "gate_rejected" }, { retryable: false, reason: "rejected" });
      expect((await store.resumeRun(run.id)).reopened).toBe(1);
      expect(await store.listSteps(second.taskId)).toEqual([]);
      expect(await store.getTask(second.taskId)).toMatchObject({ state: "ready", failReason: null });
    });

    test("texts shaped like array syntax, quotes and escapes read back exactly through the batched writes of several tasks", async () => {
      const { store } = await open();
      // What an array literal or a JSON array of strings must escape: quotes, backslashes, braces, commas, the word NULL.
      const odd = ['say "hi"', "back\\slash \\", "{a,b}", "NULL", "", "  spaced  ", "comma, here", "😀 pair", "new\nline"];
      const specs = odd.map((text, i) => ({ id: `t${i}`, title: text || "untitled", description: text, input: { text, nul: "a\u0000b", cut: `x${LONE}` } }));
      const run = await store.createRun(tasks(...specs));
      const claimed = await store.claimTasks("w", odd.length, 10_000);
      expect(claimed).toHaveLength(odd.length);
      const byKey = new Map(specs.map((spec, i) => [spec.id, odd[i]!]));
      // Queued together, so the stores that batch write them in one statement each.
      await Promise.all(claimed.map((task) => {
        const text = byKey.get(task.key)!;
        return store.recordStep(task.taskId, task.attemptId, step(`step ${text}`, 1, { input: { text }, output: { text, cut: `y${LONE}`, nul: "\u0000" } }));
      }));
      await Promise.all(claimed.map((task) => store.appendLogs(task.taskId, task.attemptId, [{ stream: "stdout", text: `log ${byKey.get(task.key)!}` }])));
      await Promise.all(claimed.map((task) => store.completeTask(task.taskId, task.attemptId, { text: byKey.get(task.key)!, cut: `z${LONE}` })));
      for (const task of claimed) {
        const text = byKey.get(task.key)!;
        const read = await store.getTask(task.taskId);
        expect(read).toMatchObject({ key: task.key, title: text || "untitled", description: text, input: { text, nul: "a\u0000b", cut: `x${LONE}` } });
        expect(read.output).toEqual({ text, cut: `z${LONE}` });
        expect(await store.listSteps(task.taskId)).toMatchObject([{ key: `step ${text}`, input: { text }, output: { text, cut: `y${LONE}`, nul: "\u0000" } }]);
        expect((await store.listLogs(task.taskId)).map((log) => log.text)).toEqual([`log ${text}`]);
      }
      expect((await store.getRun(run.id)).state).toBe("succeeded");
    });

    test("a schedule fire that failed with a lone surrogate in its error is counted by the metrics and listed in the schedule's history", async () => {
      const { store, clock } = await open();
      const schedule = await store.createSchedule(scheduleInput("cut"), "t");
      const error = `goal file: ${LONE}`;
      expect((await store.fireSchedule({ scheduleId: schedule.id, slot: clock.now() + 60_000, actor: "sched", goal: "g", planningInput: null, error })).outcome).toBe("failed");
      expect((await store.readMetrics(BUCKETS)).schedules).toEqual([{ schedule: "cut", decision: "failed", count: 1, slots: 1 }]);
      const history = await store.listScheduleEvents("cut", { types: ["schedule.failed"] });
      expect(history.map((event) => (event.data as { error?: string }).error)).toEqual([error]);
    });
  });
}
