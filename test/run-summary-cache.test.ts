/**
 * RunSummaryCache: what the main job's live view and the dashboard read while
 * a run moves. After the first read it asks the store only for the tasks
 * changed since, yet always returns what a full read would.
 */
import { expect, test } from "bun:test";
import { FULL_READ_MS, RunSummaryCache } from "../src/store/runSummaryCache.ts";
import type { Store } from "../src/store/types.ts";
import { freshStore, plan } from "./helpers.ts";

/** The store, with every readRunSummary call's options recorded. */
function recording(store: Store) {
  const calls: ({ changedSince?: number; gates?: boolean } | undefined)[] = [];
  const spy = Object.create(store) as Store;
  spy.readRunSummary = (runId, options) => {
    calls.push(options);
    return store.readRunSummary(runId, options);
  };
  return { spy, calls };
}

test("after a full read it reads only the changed tasks, merged into what a full read gives; gates only when asked", async () => {
  const { store, clock } = freshStore();
  const run = await store.createRun(plan(["a"], ["b", "a"]));
  const { spy, calls } = recording(store);
  const cache = new RunSummaryCache(spy, run.id);

  const first = await cache.read(clock.now(), { gates: false });
  expect(first.tasksChanged).toBe(true);
  expect(calls.at(-1)).toEqual({ gates: false });
  expect(first.summary.gates).toEqual([]);

  clock.advance(10);
  const [a] = await store.claimTasks("w", 1, 10_000);
  const second = await cache.read(clock.now(), { gates: false });
  expect(calls.at(-1)).toEqual({ changedSince: first.summary.tasks[0]!.updatedAt, gates: false });
  expect(second.tasksChanged).toBe(false);
  expect(second.summary.tasks).toEqual((await store.readRunSummary(run.id)).tasks);

  clock.advance(10);
  await store.completeTask(a!.taskId, a!.attemptId, null);
  const third = await cache.read(clock.now());
  expect(calls.at(-1)).toMatchObject({ changedSince: expect.any(Number), gates: true });
  expect(third.summary.tasks.map((t) => [t.key, t.state])).toEqual([["a", "succeeded"], ["b", "ready"]]);

  // The time for a full read: the same tasks, so tasksChanged stays false.
  clock.advance(FULL_READ_MS);
  const full = await cache.read(clock.now());
  expect(calls.at(-1)).toEqual({ gates: true });
  expect(full.tasksChanged).toBe(false);
  expect(full.summary.tasks).toEqual(third.summary.tasks);
});

test("tasks added to the run (a plan inserted) bring a full read that says the tasks changed", async () => {
  const { store, clock } = freshStore();
  const run = await store.createPlanningRun("plan it", {});
  const { spy, calls } = recording(store);
  const cache = new RunSummaryCache(spy, run.id);
  expect((await cache.read(clock.now())).summary.tasks.map((t) => t.key)).toEqual(["@plan"]);
  const [planning] = await store.claimTasks("architect", 1, 10_000);
  await store.completeTask(planning!.taskId, planning!.attemptId, plan(["x"], ["y", "x"]));
  const planned = await cache.read(clock.now());
  expect(calls.map((c) => c?.changedSince === undefined)).toEqual([true, false, true]); // the changed read saw new tasks, then read all
  expect(planned.tasksChanged).toBe(true);
  expect(planned.summary.tasks.map((t) => [t.key, t.state])).toEqual([["@plan", "succeeded"], ["x", "ready"], ["y", "blocked"]]);
});
