/**
 * The SQLite store keeps a run's goal and workplan in run_plans, out of the
 * runs row that every completion updates (see migrations/sqlite/0001_init.sql).
 * That they read back the same through the Store is in the contract suite.
 */
import { describe, expect, test } from "bun:test";
import { freshStore, plan } from "./helpers.ts";

describe("a run's goal and workplan", () => {
  test("live in run_plans, out of the runs row every completion updates, and the planned workplan replaces the planning goal there", async () => {
    const { store } = freshStore();
    const run = await store.createPlanningRun("Build the site.\n".repeat(2_000), {});
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
