/**
 * Write lanes on the real server (src/store/postgres/lanes.ts, the drone's
 * claim loops in src/engine/drone.ts): a drone alone claims through every
 * lane and each task still runs exactly once with its steps journaled; a
 * workflow's concurrency limit holds across lanes; a drone beside another
 * drone holding leases claims through its share of the lanes only, and
 * opens the rest once it is alone. test/write-lanes.test.ts checks the
 * routing itself.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../src/core/clock.ts";
import { Drone } from "../src/engine/drone.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { PostgresStore } from "../src/store/postgres/store.ts";
import { workflow } from "./engine-helpers.ts";
import { migratedSchema, openPgStore, pgAvailable, schemasDroppedAfterEach } from "./fixtures/pg.ts";
import { until } from "./helpers.ts";

const schemas = schemasDroppedAfterEach();

async function fresh(options: { clock?: ManualClock } = {}): Promise<PostgresStore> {
  const schema = await migratedSchema();
  schemas.push(schema);
  return openPgStore(schema, { lanes: 3, ...options });
}

function tasksOf(workflowName: string, count: number, prefix = "t") {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, title: prefix, workflow: workflowName, input: {} }));
}

describe.skipIf(!pgAvailable)("write lanes on PostgreSQL", () => {
  test("a drone alone claims through all three lanes; every task succeeds in one attempt with both steps journaled once", async () => {
    const store = await fresh();
    const wf = workflow("two-steps", async (ctx) => {
      const first = await ctx.step("first", () => ctx.task.key);
      return ctx.step("second", () => `${first}!`);
    });
    const registry = new WorkflowRegistry().register(wf);
    const { run } = await submitPlan(store, registry, { goal: "lanes", tasks: tasksOf("two-steps", 300) });
    const drone = new Drone({ store, registry, concurrency: 6, lanes: 3 }).start();
    expect(drone.laneCount).toBe(3);
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the run to finish");
    expect(drone.openLanes).toBe(3);
    await drone.stop();
    expect(store.laneStats.map((lane) => lane.batches > 0)).toEqual([true, true, true]);
    const [counts] = await store.sql.unsafe<{ attempts: string; succeeded: string; steps: string; keys: string }[]>(
      `SELECT (SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.run_id = $1) AS attempts,
              (SELECT count(*) FROM tasks WHERE run_id = $1 AND state = 'succeeded') AS succeeded,
              (SELECT count(*) FROM steps s JOIN tasks t ON t.id = s.task_id WHERE t.run_id = $1) AS steps,
              (SELECT count(DISTINCT (s.task_id, s.key)) FROM steps s JOIN tasks t ON t.id = s.task_id WHERE t.run_id = $1) AS keys`,
      [run.id],
    );
    expect(counts).toEqual({ attempts: "300", succeeded: "300", steps: "600", keys: "600" });
    const [task] = (await store.listTasks(run.id)).filter((t) => t.key === "t7");
    expect(task!.output).toBe("t7!");
  });

  test("a workflow's concurrency limit counts the tasks of every lane, and the claims other lanes have in flight", async () => {
    const store = await fresh();
    let active = 0;
    let most = 0;
    const limited = workflow(
      "limited",
      async (ctx) =>
        ctx.step("work", async () => {
          most = Math.max(most, ++active);
          await Bun.sleep(2); // work that takes a while, so that tasks overlap
          active--;
          return null;
        }),
      { concurrency: 2 },
    );
    const free = workflow("free", async (ctx) => ctx.step("work", () => null));
    const registry = new WorkflowRegistry().register(limited).register(free);
    const { run } = await submitPlan(store, registry, { goal: "limits", tasks: [...tasksOf("limited", 40, "l"), ...tasksOf("free", 60, "f")] });
    const drone = new Drone({ store, registry, concurrency: 30, lanes: 3 }).start();
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the run to finish");
    await drone.stop();
    expect(most).toBe(2);
    expect(store.laneStats.filter((lane) => lane.batches > 0).length).toBeGreaterThan(1);
  });

  test("beside another drone holding a lease a drone claims through one lane of three; alone again, through all three", async () => {
    const clock = new ManualClock();
    const store = await fresh({ clock });
    // Tasks hold their slot until the test opens the gate they found when they started.
    let gate = Promise.withResolvers<void>();
    const openGate = (next = Promise.withResolvers<void>()) => {
      const current = gate;
      gate = next;
      current.resolve();
    };
    const running = new Set<string>();
    let started = 0;
    let most = 0;
    const wf = workflow("held", async (ctx) =>
      ctx.step("hold", async () => {
        const wait = gate.promise;
        started++;
        running.add(ctx.task.key);
        most = Math.max(most, running.size);
        await wait;
        running.delete(ctx.task.key);
        return null;
      }),
    );
    const registry = new WorkflowRegistry().register(wf);
    const other = await store.createRun({ goal: "other", tasks: [{ id: "x", title: "x", workflow: "noop", input: {} }] });
    const [theirs] = await store.claimTasks("another-drone", 1, 600_000, { runId: other.id });
    const { run } = await submitPlan(store, registry, { goal: "shared", tasks: tasksOf("held", 30) });
    const drone = new Drone({ store, registry, concurrency: 6, lanes: 3, clock, runId: run.id }).start();
    const opened = Promise.withResolvers<void>();
    opened.resolve();
    try {
      // Three rounds of claims while the other drone holds its lease, each after a census: lane 0's two slots only.
      for (let round = 0; round < 3; round++) {
        await until(() => started === 2 * (round + 1) && running.size === 2, 20_000, `round ${round}: lane 0's next tasks to run`);
        clock.advance(300); // the next census is due
        if (round < 2) openGate();
      }
      expect(drone.openLanes).toBe(1);
      expect(most).toBe(2);
      expect(store.laneStats.slice(1).map((lane) => lane.batches)).toEqual([0, 0]);

      // The other drone finishes: the next census finds this one alone and opens every lane.
      await store.completeTask(theirs!.taskId, theirs!.attemptId, null);
      openGate();
      await until(() => drone.openLanes === 3 && started === 12 && running.size === 6, 20_000, "all three lanes to claim");
      expect(store.laneStats.map((lane) => lane.batches > 0)).toEqual([true, true, true]);
      openGate(opened);
      await until(async () => (await store.getRun(run.id)).state === "succeeded", 20_000, "the run to finish");
    } finally {
      openGate(opened); // a failed expectation leaves no task waiting, and no drone running
      await drone.stop(0);
    }
  }, 60_000); // above the waits' own limits: a failed wait ends the test through `finally`
});
