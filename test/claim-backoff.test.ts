/**
 * A drone whose claims fail backs off (src/engine/drone.ts, claimBackoffMs):
 * 50 ms after the first failure, doubling up to its maxIdleMs, and a change
 * in the database does not end the wait. Found on PostgreSQL: a worker whose
 * schema was dropped under it claimed and failed about 2,000 times a second
 * at 80% of a core, each failed batch's COMMIT waking its own lanes again.
 * Gaps are asserted as lower bounds: a timer never fires early, so they
 * hold on a slow machine as on a fast one.
 */
import { describe, expect, test } from "bun:test";
import { claimBackoffMs, Drone } from "../src/engine/drone.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import type { Store } from "../src/store/types.ts";
import { workflow } from "./engine-helpers.ts";
import { migratedSchema, openPgStore, pgAdmin, pgAvailable, schemasDroppedAfterEach } from "./fixtures/pg.ts";
import { freshRealTimeStore, rejected, until } from "./helpers.ts";

/** Timers may fire a millisecond early by the clock read here (rounding). */
const SLACK_MS = 2;

function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe("claimBackoffMs", () => {
  test("50 ms after one failure, doubling with each in a row, never past maxIdleMs", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => claimBackoffMs(n, 1_000))).toEqual([50, 100, 200, 400, 800, 1_000]);
    expect(claimBackoffMs(1_000, 1_000)).toBe(1_000); // no overflow after many failures
    expect(claimBackoffMs(1, 20)).toBe(20);
  });
});

describe("a drone whose claims fail", () => {
  test("waits longer after each failure in a row though the store reports changes all the time, and starts again at 50 ms after a claim succeeds", async () => {
    const { store } = freshRealTimeStore();
    const wf = workflow("quick", async () => "done");
    const registry = new WorkflowRegistry().register(wf);
    await submitPlan(store, registry, { goal: "backoff", tasks: [{ id: "a", title: "a", workflow: "quick", input: {} }] });
    const calls: number[] = [];
    let failing = 4; // the first four claims fail, then one succeeds, then every claim fails
    const flaky = new Proxy(store, {
      get(target, name) {
        if (name === "claimTasks") {
          return (...args: Parameters<Store["claimTasks"]>) => {
            calls.push(performance.now());
            if (failing > 0 || calls.length > 5) {
              failing--;
              // Rejected on a later turn, as a store's would be: a failing drone then spins without starving the test's timers.
              return new Promise((_, reject) => setImmediate(() => reject(new Error('relation "tasks" does not exist'))));
            }
            return target.claimTasks(...args);
          };
        }
        // A store that always has news: an idle wait would end at once.
        if (name === "waitForChange") return () => new Promise<void>((resolve) => setImmediate(resolve));
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Store;
    const errors: string[] = [];
    const drone = new Drone({ store: flaky, registry, maxIdleMs: 300, onEvent: (event) => void (event.type === "error" && errors.push(event.message)) }).start();
    try {
      await until(() => calls.length >= 9, 20_000, "nine claims");
    } finally {
      await drone.stop();
      await store.close();
    }
    const [a, b, c, d, , , f, g] = gaps(calls);
    // Four failures: 50, 100, 200, 300 (maxIdleMs). The fifth claim succeeds.
    expect(a).toBeGreaterThanOrEqual(50 - SLACK_MS);
    expect(b).toBeGreaterThanOrEqual(100 - SLACK_MS);
    expect(c).toBeGreaterThanOrEqual(200 - SLACK_MS);
    expect(d).toBeGreaterThanOrEqual(300 - SLACK_MS);
    // After the success the count starts over. The first wait after it (50 ms) may be cut short by the task
    // finishing (a local wake), so the gaps read are the second and third failures': 100 and 200 ms. Had the
    // count not started over, both would be 300 (maxIdleMs): 600 together.
    expect(f).toBeGreaterThanOrEqual(100 - SLACK_MS);
    expect(g).toBeGreaterThanOrEqual(200 - SLACK_MS);
    expect(f! + g!).toBeLessThan(580);
    expect(errors.filter((m) => m.startsWith('claim failed: relation "tasks" does not exist')).length).toBe(calls.length - 1);
  });
});

const schemas = schemasDroppedAfterEach();

/**
 * DROP SCHEMA beside a drone that claims: the DROP locks the tables one by one while a claim holds
 * some of them, and PostgreSQL may end the DROP as a deadlock's victim. It is rolled back whole, so it
 * is sent again (seen once in CI).
 */
async function dropUnderDrone(schema: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await pgAdmin().unsafe(`DROP SCHEMA ${schema} CASCADE`);
      return;
    } catch (error) {
      if ((error as { errno?: string }).errno !== "40P01" || attempt >= 20) throw error;
    }
  }
}

describe.skipIf(!pgAvailable)("a drone on PostgreSQL whose schema is dropped under it", () => {
  test("reports each failed claim and backs off instead of spinning on its lanes' failed transactions; stop() still resolves", async () => {
    const schema = await migratedSchema();
    schemas.push(schema);
    const store = await openPgStore(schema, { lanes: 3 });
    const registry = new WorkflowRegistry().register(workflow("quick", async () => "done"));
    const { run } = await submitPlan(store, registry, { goal: "dropped", tasks: [{ id: "a", title: "a", workflow: "quick", input: {} }] });
    const failures: number[] = [];
    const drone = new Drone({
      store, registry, maxIdleMs: 400,
      onEvent: (event) => void (event.type === "error" && event.message.startsWith("claim failed") && failures.push(performance.now())),
    }).start();
    try {
      await until(async () => (await store.getRun(run.id)).state === "succeeded", 20_000, "the run to finish");
      await until(() => drone.openLanes === 3, 20_000, "the census to open every lane"); // alone: each lane's failed COMMIT woke the others
      await dropUnderDrone(schema);
      await until(() => failures.length >= 12, 20_000, "twelve failed claims");
    } finally {
      await drone.stop();
      await store.close();
    }
    // Twelve failures over three lanes: one lane failed at least four times, 50 + 100 + 200 ms apart at the least.
    // Without the backoff they came within a few milliseconds.
    expect(failures[11]! - failures[0]!).toBeGreaterThanOrEqual(350 - SLACK_MS);
  });

  test("a failed claim is not a change: it wakes no idle drone of the store, while a write that commits does", async () => {
    const schema = await migratedSchema();
    schemas.push(schema);
    const store = await openPgStore(schema, { lanes: 1 });
    try {
      // Nothing here waits for changes, so the store never listens: its token moves by its own commits only.
      const before = store.changeToken();
      const registry = new WorkflowRegistry().register(workflow("quick", async () => "done"));
      await submitPlan(store, registry, { goal: "changes", tasks: [{ id: "a", title: "a", workflow: "quick", input: {} }] });
      const submitted = store.changeToken();
      expect(submitted).toBeGreaterThan(before);
      await pgAdmin().unsafe(`DROP TABLE ${schema}.task_deps CASCADE`); // the claim's statement reads it
      expect((await rejected(store.claimTasks("w", 8, 30_000))).message).toContain("task_deps");
      expect(store.changeToken()).toBe(submitted);
    } finally {
      await store.close();
    }
  });
});
