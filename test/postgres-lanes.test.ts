/**
 * Write lanes on the real server (src/store/postgres/lanes.ts, the drone's
 * claim loops in src/engine/drone.ts): a drone alone claims through every
 * lane and each task still runs exactly once with its steps journaled; a
 * workflow's concurrency limit holds across lanes; a drone beside another
 * drone holding leases claims through its share of the lanes only, opens
 * the rest once it is alone and closes them when it is not; its default
 * slots follow its open lanes, a chosen concurrency does not. test/write-lanes.test.ts checks the
 * routing itself.
 */
import { describe, expect, test } from "bun:test";
import { ManualTicker } from "../src/core/clock.ts";
import { Drone } from "../src/engine/drone.ts";
import { CENSUS_MAX_STRIDE } from "../src/engine/laneShare.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { PostgresStore } from "../src/store/postgres/store.ts";
import { workflow } from "./engine-helpers.ts";
import { migratedSchema, openPgStore, pgAvailable, schemasDroppedAfterEach } from "./fixtures/pg.ts";
import { until } from "./helpers.ts";

const schemas = schemasDroppedAfterEach();

async function fresh(): Promise<PostgresStore> {
  const schema = await migratedSchema();
  schemas.push(schema);
  return openPgStore(schema, { lanes: 3 });
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
    // Six slots: lane 0 claims all six before the census opens the others with two each, so lanes 1 and 2
    // wait for a slot of the drone's that lane 0's tasks free. Their wait is ended by those tasks settling,
    // not by a timer: with a long maxIdleMs the run finishes only if it is.
    const drone = new Drone({ store, registry, concurrency: 6, lanes: 3, maxIdleMs: 60_000 }).start();
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
          // Work that takes a while, so that the lanes' claims overlap it. (Not a wait for a condition: tasks held
          // until a second one runs finish in pairs too fast for another lane's claim to land beside them, and the
          // test no longer fails without the claims-in-flight count; with this it fails every time, 4 to 6 at once.)
          await Bun.sleep(2);
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

  /** Tasks of workflow "held" hold their slot until the test opens the gate they found when they started. */
  function heldTasks() {
    let gate = Promise.withResolvers<void>();
    const state = { started: 0, running: new Set<string>() };
    const wf = workflow("held", async (ctx) =>
      ctx.step("hold", async () => {
        const wait = gate.promise;
        state.started++;
        state.running.add(ctx.task.key);
        await wait;
        state.running.delete(ctx.task.key);
        return null;
      }),
    );
    const open = Promise.withResolvers<void>();
    open.resolve();
    return {
      registry: new WorkflowRegistry().register(wf),
      state,
      /** Lets the tasks waiting now finish; later ones wait again (or not, with `forGood`). */
      release(forGood = false) {
        const current = gate;
        gate = forGood ? open : Promise.withResolvers<void>();
        current.resolve();
      },
    };
  }

  /** Ticks until the census finds what `found` checks: within one stride (CENSUS_MAX_STRIDE ticks), the longest a change waits to be counted. */
  async function censusFinds(ticker: ManualTicker, found: () => boolean, what: string): Promise<void> {
    for (let ticks = 1; ticks <= CENSUS_MAX_STRIDE; ticks++) {
      await ticker.tick();
      if (found()) return;
    }
    throw new Error(`the census did not find ${what} within ${CENSUS_MAX_STRIDE} ticks`);
  }

  /** Another drone's lease (on a run of its own, which this test's drone does not claim from). */
  async function anotherDroneHolds(store: PostgresStore) {
    const other = await store.createRun({ goal: "other", tasks: [{ id: "x", title: "x", workflow: "noop", input: {} }] });
    const [theirs] = await store.claimTasks("another-drone", 1, 600_000, { runId: other.id });
    return () => store.completeTask(theirs!.taskId, theirs!.attemptId, null);
  }

  test("beside another drone holding a lease a drone claims through one lane of three, with all the slots it was given; alone again, through all three", async () => {
    const store = await fresh();
    const held = heldTasks();
    const done = await anotherDroneHolds(store);
    const { run } = await submitPlan(store, held.registry, { goal: "shared", tasks: tasksOf("held", 30) });
    const lanesClaimed: number[] = [];
    const ticker = new ManualTicker(); // fires the census
    const drone = new Drone({ store, registry: held.registry, concurrency: 6, lanes: 3, runId: run.id, ticker, onEvent: (e) => void (e.type === "claimed" && lanesClaimed.push(e.lane)) }).start();
    try {
      // Rounds of claims while the other drone holds its lease, a census after each: lane 0 only, six at once.
      for (let round = 0; round < 3; round++) {
        await until(() => held.state.started === 6 * (round + 1) && held.state.running.size === 6, 20_000, `round ${round}: six tasks to run`);
        await ticker.tick();
        expect(drone.openLanes).toBe(1);
        if (round < 2) held.release();
      }
      expect(new Set(lanesClaimed)).toEqual(new Set([0]));
      expect(store.laneStats.slice(1).map((lane) => lane.batches)).toEqual([0, 0]);

      // The other drone finishes: a census finds this one alone and opens every lane.
      await done();
      await censusFinds(ticker, () => drone.openLanes === 3, "this drone alone");
      held.release();
      await until(() => held.state.started === 24 && held.state.running.size === 6, 20_000, "the next six tasks to run");
      expect(new Set(lanesClaimed.slice(18))).toEqual(new Set([0, 1, 2]));
      held.release(true);
      await until(async () => (await store.getRun(run.id)).state === "succeeded", 20_000, "the run to finish");
      expect(store.attemptsInLanes).toBe(0); // nothing kept for an attempt that ended
    } finally {
      held.release(true); // a failed expectation leaves no task waiting, and no drone running
      await drone.stop(0);
    }
  }, 60_000); // above the waits' own limits: a failed wait ends the test through `finally`

  test("a drone alone in three lanes closes two when another drone takes a lease, and keeps its 768 default slots in the lane it has open", async () => {
    const store = await fresh();
    const held = heldTasks();
    const { run } = await submitPlan(store, held.registry, { goal: "alone, then not", tasks: tasksOf("held", 2_000) });
    const lanesClaimed: number[] = [];
    const ticker = new ManualTicker(); // fires the census (the first one follows the first claim)
    const drone = new Drone({ store, registry: held.registry, runId: run.id, ticker, onEvent: (e) => void (e.type === "claimed" && lanesClaimed.push(e.lane)) }).start();
    try {
      expect(drone.concurrency).toBe(768); // 256 in each of three lanes
      await until(() => held.state.running.size === 768, 20_000, "768 tasks to run");
      await ticker.tick();
      expect(drone.openLanes).toBe(3);
      held.release();
      await until(() => held.state.started === 1_536 && held.state.running.size === 768, 20_000, "the next 768 tasks, in three lanes");
      expect(new Set(lanesClaimed.slice(768))).toEqual(new Set([0, 1, 2]));
      await anotherDroneHolds(store);
      await censusFinds(ticker, () => drone.openLanes === 1, "the other drone");
      const before = lanesClaimed.length;
      held.release();
      // Fewer transactions in flight, not fewer tasks: lane 0 runs them all (464 are left).
      await until(() => held.state.started === 2_000 && held.state.running.size === 464, 20_000, "the last 464 tasks, all in lane 0");
      expect(new Set(lanesClaimed.slice(before))).toEqual(new Set([0]));
      held.release(true);
      await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the run to finish");
    } finally {
      held.release(true);
      await drone.stop(0);
    }
  }, 60_000);

  test("a census that changes nothing comes half as often each time, down to one in eight ticks; one that changes the lanes brings it back to every tick", async () => {
    const store = await fresh();
    const held = heldTasks();
    const { run } = await submitPlan(store, held.registry, { goal: "census", tasks: tasksOf("held", 6) });
    let counts = 0;
    const count = store.countOtherLeaseHolders.bind(store);
    store.countOtherLeaseHolders = (worker) => (counts++, count(worker));
    const ticker = new ManualTicker();
    const drone = new Drone({ store, registry: held.registry, concurrency: 6, lanes: 3, runId: run.id, ticker }).start();
    try {
      // The first census follows the first claim: alone, it opens every lane (a change: the next tick counts).
      await until(() => drone.openLanes === 3 && held.state.running.size === 6, 20_000, "the first census to open every lane");
      await until(() => counts === 1, 20_000, "the first census to settle");
      const counted: number[] = [];
      const tickCounting = async (tick: number) => {
        const before = counts;
        await ticker.tick();
        if (counts > before) counted.push(tick);
      };
      for (let tick = 1; tick <= 15; tick++) await tickCounting(tick);
      expect(counted).toEqual([1, 3, 7, 15]); // strides of 1, 2, 4, 8: nothing changed
      await anotherDroneHolds(store);
      for (let tick = 16; tick <= 26; tick++) await tickCounting(tick);
      // Eight ticks after the last count it finds the other drone and closes two lanes; then strides of 1, 2 again.
      expect(counted).toEqual([1, 3, 7, 15, 23, 24, 26]);
      expect(drone.openLanes).toBe(1);
      held.release(true);
      await until(async () => (await store.getRun(run.id)).state === "succeeded", 20_000, "the run to finish");
    } finally {
      held.release(true);
      await drone.stop(0);
    }
  }, 60_000);
});
