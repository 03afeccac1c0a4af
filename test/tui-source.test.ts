/**
 * The dashboard's source: between full reads it reads only the tasks that
 * changed and merges them; what it shows must be what a full read shows.
 */
import { expect, test } from "bun:test";
import { FULL_READ_MS } from "../src/store/runSummaryCache.ts";
import { Source } from "../src/tui/data.ts";
import type { Route } from "../src/tui/state.ts";
import { freshStore, openTestStore, plan } from "./helpers.ts";

function runData(data: Awaited<ReturnType<Source["load"]>>) {
  if (data.data.kind !== "run") throw new Error(`expected a run's data, got ${data.data.kind}`);
  return data.data;
}

test("between full reads the run's tasks are the last read's with the changed ones merged in, as a full read has them", async () => {
  const { store, clock, path } = freshStore();
  const reader = openTestStore(path, { readOnly: true, clock });
  const run = await store.createRun(plan(["a"], ["b"], ["c", "a"], ["d", "c"]));
  const route: Route = { kind: "run", runId: run.id, pane: "tasks" };
  const source = new Source(reader);
  const first = runData(await source.load(route, clock.now()));
  expect(first.summary.tasks.map((t) => t.state)).toEqual(["ready", "ready", "blocked", "blocked"]);
  expect([...first.waves]).toEqual([["a", 1], ["b", 1], ["c", 2], ["d", 3]]);

  const sameAsFullRead = async () => {
    const merged = runData(await source.load(route, clock.now()));
    expect(merged.summary.tasks).toEqual((await reader.readRunSummary(run.id)).tasks);
    expect(merged.waves).toBe(first.waves); // the DAG did not change: not computed again
  };
  clock.advance(10);
  const claimed = await store.claimTasks("w1", 2, 10_000);
  await sameAsFullRead();
  clock.advance(10);
  await store.renewLeases("w1", claimed.map((c) => ({ taskId: c.taskId, attemptId: c.attemptId, leaseMs: 10_000 })));
  await sameAsFullRead();
  // In the same millisecond as the last read's latest change: still seen.
  await store.completeTask(claimed[0]!.taskId, claimed[0]!.attemptId, null);
  await sameAsFullRead();
  expect(runData(await source.load(route, clock.now())).summary.tasks.map((t) => [t.key, t.state])).toEqual([["a", "succeeded"], ["b", "running"], ["c", "ready"], ["d", "blocked"]]);
});

test("tasks added to the run (a plan inserted) bring a full read and new waves; so does the time for one", async () => {
  const { store, clock, path } = freshStore();
  const reader = openTestStore(path, { readOnly: true, clock });
  const run = await store.createPlanningRun("plan it", {});
  const route: Route = { kind: "run", runId: run.id, pane: "tasks" };
  const source = new Source(reader);
  expect(runData(await source.load(route, clock.now())).summary.tasks.map((t) => t.key)).toEqual(["@plan"]);
  const [planning] = await store.claimTasks("architect", 1, 10_000);
  await store.completeTask(planning!.taskId, planning!.attemptId, { ...plan(["x"], ["y", "x"]), budget: { turns: 5 } });
  const planned = runData(await source.load(route, clock.now()));
  expect(planned.summary.tasks.map((t) => [t.key, t.state])).toEqual([["@plan", "succeeded"], ["x", "ready"], ["y", "blocked"]]);
  expect([...planned.waves]).toEqual([["x", 1], ["y", 2]]);
  expect(planned.budget).toEqual({ turns: 5 });
  clock.advance(FULL_READ_MS);
  const again = runData(await source.load(route, clock.now()));
  expect(again.summary.tasks).toEqual((await reader.readRunSummary(run.id)).tasks);
  expect(again.waves).toBe(planned.waves);
});
