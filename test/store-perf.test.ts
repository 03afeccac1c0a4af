/**
 * What the store's fast path must keep doing: the claim's upkeep is rate-limited
 * on the store's clock but never lost, claims take any whole limit, a run's goal
 * and workplan live apart from its hot row, and checkpoints (a worker thread)
 * keep the WAL bounded and let close remove it.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { WAL_RESTART_PAGES, WAL_SIZE_LIMIT_BYTES } from "../src/store/sqlite/checkpoints.ts";
import { RECLAIM_BATCH } from "../src/store/sqlite/leases.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { UPKEEP_INTERVAL_MS } from "../src/store/sqlite/upkeep.ts";
import { freshRealTimeStore, freshStore, plan, openTestStore, rejected } from "./helpers.ts";

function crashedAttempts(store: SqliteStore): number {
  return store.db.query<{ n: number }, []>("SELECT count(*) AS n FROM attempts WHERE state = 'crashed'").get()!.n;
}

describe("the claim's upkeep", () => {
  test("a busy claim runs it at most once per interval of the store's clock, and a later claim reclaims at once", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"], ["c"], ["d"]));
    const [a] = await store.claimTasks("w1", 1, 50);
    clock.advance(UPKEEP_INTERVAL_MS / 2); // a's lease has expired, but the upkeep ran half an interval ago
    expect((await store.claimTasks("w2", 1, 10_000)).map((c) => c.key)).toEqual(["b"]);
    expect(crashedAttempts(store)).toBe(0);
    clock.advance(UPKEEP_INTERVAL_MS / 2);
    expect((await store.claimTasks("w3", 1, 10_000)).map((c) => c.key)).toEqual(["c"]);
    expect(crashedAttempts(store)).toBe(1);
    expect(await store.getTask(a!.taskId)).toMatchObject({ state: "ready", crashes: 1 });
  });

  test("a claim that comes back short runs it at once and claims what it freed", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(["a"], ["b"]));
    const [a] = await store.claimTasks("w1", 1, 10);
    clock.advance(11);
    const claimed = await store.claimTasks("w2", 5, 10_000);
    expect(claimed.map((c) => [c.key, c.attempt])).toEqual([
      ["b", 1],
      ["a", 2],
    ]);
    expect(claimed[1]!.taskId).toBe(a!.taskId);
  });

  test("a pass that hits its batch bound stays due, so the backlog drains claim after claim", async () => {
    const { store, clock } = freshStore();
    await store.createRun(plan(...Array.from({ length: RECLAIM_BATCH + 9 }, (_, i) => [`t${i}`] as [string])));
    expect(await store.claimTasks("w1", RECLAIM_BATCH + 8, 1_000)).toHaveLength(RECLAIM_BATCH + 8);
    clock.advance(1_001);
    expect(await store.claimTasks("w2", 1, 10_000)).toHaveLength(1); // the one task never claimed, after a full batch
    expect(crashedAttempts(store)).toBe(RECLAIM_BATCH);
    expect(await store.claimTasks("w2", 1, 10_000)).toHaveLength(1); // same clock time: the rest of the backlog
    expect(crashedAttempts(store)).toBe(RECLAIM_BATCH + 8);
  });
});

describe("claim limits", () => {
  test("a limit that is not a whole number ≥ 0 is refused before anything is written", async () => {
    const { store } = freshStore();
    await store.createRun(plan(["a"]));
    for (const limit of [1.5, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await rejected(store.claimTasks("w", limit, 1_000))).toBeInstanceOf(RangeError);
    }
    expect(store.db.inTransaction).toBe(false);
    expect(await store.claimTasks("w", 3, 1_000)).toHaveLength(1);
  });

  test("limits, workflows and a run filter combine in one claim", async () => {
    const { store } = freshStore();
    const tasks = (prefix: string) =>
      ["shell", "agent", "shell", "review"].map((workflow, i) => ({ id: `${prefix}${i}`, title: `${prefix}${i}`, workflow }));
    const one = await store.createRun({ goal: "one", tasks: tasks("x") });
    await store.createRun({ goal: "two", tasks: tasks("y") });
    const claimed = await store.claimTasks("w", 2, 1_000, { runId: one.id, workflows: ["shell", "review"] });
    expect(claimed.map((c) => c.key)).toEqual(["x0", "x2"]);
    expect((await store.claimTasks("w", 7, 1_000, { runId: one.id, workflows: ["shell", "review"] })).map((c) => c.key)).toEqual(["x3"]);
    expect((await store.claimTasks("w", 7, 1_000, { workflows: ["agent"] })).map((c) => c.key)).toEqual(["x1", "y1"]);
  });
});

describe("a run's goal and workplan", () => {
  test("live in run_plans, out of the runs row every completion updates, and read back the same", async () => {
    const { store } = freshStore();
    const goal = "Build the site.\n".repeat(2_000); // a whole goal file
    const run = await store.createPlanningRun(goal, {});
    expect((await store.getRun(run.id)).goal).toBe(goal);
    const columns = store.db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('runs')").all().map((c) => c.name);
    expect(columns).not.toContain("goal");
    expect(columns).not.toContain("workplan");
    const [planning] = await store.claimTasks("architect", 1, 1_000);
    await store.completeTask(planning!.taskId, planning!.attemptId, plan(["a"], ["b", "a"]));
    const stored = store.db.query<{ goal: string; workplan: string }, [string]>("SELECT goal, workplan FROM run_plans WHERE run_id = ?").get(run.id)!;
    expect(stored.goal).toBe("test goal");
    expect(JSON.parse(stored.workplan).tasks.map((t: { id: string }) => t.id)).toEqual(["a", "b"]);
    expect((await store.listRuns())[0]).toMatchObject({ id: run.id, goal: "test goal", state: "running", tasksTotal: 3, tasksOpen: 2 });
  });
});

describe("checkpoints", () => {
  test("store connections leave checkpoints to the store", () => {
    const { store } = freshStore();
    expect(store.db.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint).toBe(0);
  });

  test("a long stream of claims and completions keeps the WAL bounded, and close removes it", async () => {
    const { store, path } = freshRealTimeStore();
    const chains = 20;
    const tasks = Array.from({ length: 3_000 }, (_, i) => ({
      id: `t${i}`,
      title: `t${i}`,
      workflow: "noop",
      after: i < chains ? [] : [`t${i - chains}`],
    }));
    await store.createRun({ goal: "many", tasks });
    for (const _ of tasks) {
      const [task] = await store.claimTasks("w", 1, 60_000);
      await store.completeTask(task!.taskId, task!.attemptId, null);
    }
    // These 6,000 commits write ~45,000 WAL frames (185 MB): the WAL must have been restarted since.
    const frames = store.db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!.log;
    expect(frames).toBeLessThan(WAL_RESTART_PAGES * 4);
    expect(statSync(`${path}-wal`).size).toBeLessThan(WAL_SIZE_LIMIT_BYTES * 1.5); // journal_size_limit truncates it on a restart
    expect((await store.listRuns())[0]!.state).toBe("succeeded");
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  }, 60_000);

  test("a closed store has closed its file even before garbage collection", async () => {
    const { store, path } = freshRealTimeStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 1_000);
    await store.completeTask(a!.taskId, a!.attemptId, null);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = openTestStore(path);
    expect((await reopened.listRuns())[0]!.state).toBe("succeeded");
    await reopened.close();
  });
});
