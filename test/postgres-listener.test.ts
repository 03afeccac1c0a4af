/**
 * Wake-ups on PostgreSQL: a batch that makes tasks ready sends one NOTIFY,
 * and idle drones elsewhere wake on it instead of at their idle limit. The
 * listening connection can die without a word; dispatch then falls back to
 * polling (the drone's idle limit), and the listener comes back by itself.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Drone } from "../src/engine/drone.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import type { PostgresStore } from "../src/store/postgres/store.ts";
import { workflow } from "./engine-helpers.ts";
import { dropSchema, migratedSchema, openPgStore, pgAdmin, pgAvailable } from "./fixtures/pg.ts";
import { plan, until } from "./helpers.ts";

const quick = workflow("noop", async () => "done");
const registry = () => new WorkflowRegistry().register(quick);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function setup(options: { maxIdleMs: number }) {
  const schema = await migratedSchema();
  const drones: Drone[] = [];
  cleanup.push(async () => {
    for (const drone of drones) await drone.stop(1_000);
    await dropSchema(schema);
  });
  // Short probes so the test sees a silent listener replaced quickly.
  const droneStore = await openPgStore(schema, { applicationName: `listener-test-${schema}`, probeIntervalMs: 200, probeTimeoutMs: 500 });
  const enqueuer = await openPgStore(schema);
  const drone = new Drone({ store: droneStore, registry: registry(), maxIdleMs: options.maxIdleMs, id: "idle-drone" }).start();
  drones.push(drone);
  // The drone is idle once its store listens.
  await until(async () => droneStore.listener.restarts > 0 && (await listenPid(schema)) !== null, 10_000, "the drone's store to listen");
  return { schema, droneStore, enqueuer };
}

/** The backend of the drone store's listening connection. */
async function listenPid(schema: string): Promise<number | null> {
  const [row] = await pgAdmin().unsafe<{ pid: number }[]>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'", [`listener-test-${schema}:listen`]);
  return row?.pid ?? null;
}

/** Enqueues a one-task run from the other store; resolves with how long until the drone had it done. */
async function dispatchLatency(enqueuer: PostgresStore): Promise<number> {
  const started = performance.now();
  const run = await enqueuer.createRun(plan(["t"]));
  await until(async () => (await enqueuer.getRun(run.id)).state === "succeeded", 20_000, "the idle drone to run the task");
  return performance.now() - started;
}

describe.skipIf(!pgAvailable)("LISTEN/NOTIFY wake-ups", () => {
  test("a run enqueued by another store wakes an idle drone through NOTIFY, long before its idle limit", async () => {
    const { enqueuer } = await setup({ maxIdleMs: 60_000 });
    for (let i = 0; i < 3; i++) expect(await dispatchLatency(enqueuer)).toBeLessThan(2_000);
  });

  test("steps and heartbeats send no NOTIFY: only a batch that makes tasks ready does, once however many it made ready", async () => {
    const { enqueuer, schema } = await setup({ maxIdleMs: 60_000 });
    const admin = pgAdmin();
    // Listen on the schema's channel as another machine would, and count.
    const seen: string[] = [];
    const subscription = await admin.listen(`farcaster_${schema}`, (payload) => {
      if (!payload.startsWith("probe:")) seen.push(payload);
    });
    try {
      // Of a workflow the idle drone does not know, so the tasks stay for this test to claim.
      await enqueuer.createRun({ goal: "g", tasks: Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "elsewhere" })) });
      await until(() => seen.length >= 1, 5_000, "the NOTIFY of the enqueue");
      const [claimed] = await enqueuer.claimTasks("w", 1, 10_000);
      const before = seen.length;
      for (let i = 1; i <= 20; i++) await enqueuer.recordStep(claimed!.taskId, claimed!.attemptId, { key: `s${i}`, seq: i, kind: "step", status: "completed", input: null, output: i, error: null, startedAt: 0, endedAt: 0 });
      await enqueuer.renewLeases("w", [{ taskId: claimed!.taskId, attemptId: claimed!.attemptId, leaseMs: 10_000 }]);
      await Bun.sleep(300); // a NOTIFY would have arrived by now (they came in milliseconds above)
      expect(seen.length).toBe(before);
      await enqueuer.completeTask(claimed!.taskId, claimed!.attemptId, null);
      await Bun.sleep(300);
      expect(seen.length).toBe(before); // a completion that unblocks nothing makes nothing ready
    } finally {
      await subscription.unlisten();
    }
  });

  test("the listening connection's backend is terminated: dispatch still happens within the poll interval, and the listener comes back", async () => {
    const { enqueuer, schema, droneStore } = await setup({ maxIdleMs: 1_000 });
    const first = await listenPid(schema);
    const restarts = droneStore.listener.restarts;
    await pgAdmin().unsafe("SELECT pg_terminate_backend($1)", [first]);
    // Enqueued while nobody may be listening: the drone finds it on its next look, within its idle limit.
    expect(await dispatchLatency(enqueuer)).toBeLessThan(3_000);
    await until(async () => droneStore.listener.restarts > restarts && ![null, first].includes(await listenPid(schema)), 10_000, "a new listener");
    // Listening again: dispatch is immediate again, not at the idle limit.
    const latencies = [];
    for (let i = 0; i < 3; i++) latencies.push(await dispatchLatency(enqueuer));
    expect(Math.min(...latencies)).toBeLessThan(500);
  });
});
