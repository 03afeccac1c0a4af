/**
 * A network partition between a drone and PostgreSQL: the drone reaches the
 * server through a TCP proxy the test controls (test/fixtures/tcpProxy.ts).
 * Cut while the drone holds a lease, the lease expires and another drone
 * finishes the task; healed, every write the cut-off drone then delivers is
 * refused by its fence. The listener is watched the same way: a listening
 * connection that silently stops delivering is replaced.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Drone } from "../src/engine/drone.ts";
import { loadWorkflowDir, WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import { PostgresStore } from "../src/store/postgres/store.ts";
import { ENTRY } from "./cli-helpers.ts";
import { workflow } from "./engine-helpers.ts";
import { dropSchema, migratedSchema, openPgStore, pgAdmin, pgAvailable, pgUrl, PG_URL } from "./fixtures/pg.ts";
import { trackStore } from "./fixtures/stores.ts";
import { TcpProxy } from "./fixtures/tcpProxy.ts";
import { freshDir, plan, until } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "workflows");
let cleanup: (() => Promise<unknown> | unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function proxy(): Promise<TcpProxy> {
  const target = new URL(PG_URL);
  const p = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  cleanup.push(() => p.close());
  return p;
}

async function database(): Promise<{ store: PostgresStore; schema: string }> {
  const schema = await migratedSchema();
  cleanup.push(() => dropSchema(schema));
  const store = await openPgStore(schema);
  cleanup.push(() => store.close());
  return { store, schema };
}

function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

function worker(url: string, id: string) {
  const proc = Bun.spawn([process.execPath, ENTRY, "worker", "--db", withParams(url, { application_name: id }), "--workflows", FIXTURES, "--lease", "1s", "--id", id], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const handle = { proc, out: "" };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) handle.out += decoder.decode(chunk, { stream: true });
  })();
  cleanup.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  return handle;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

/** Cuts the proxy at a moment the drone is not inside a transaction (see freezeOutsideTransaction in postgres-crash.test.ts). */
async function cutOutsideTransaction(p: TcpProxy, id: string): Promise<void> {
  for (;;) {
    p.cut();
    const [row] = await pgAdmin().unsafe<{ n: string }[]>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1 AND state <> 'idle'", [`${id}%`]);
    if (Number(row!.n) === 0) return;
    p.restore();
    await Bun.sleep(5);
  }
}

describe.skipIf(!pgAvailable)("a network partition", () => {
  test("cut off while it holds a lease, a drone gives it up at the lease's end and another finishes the task; healed, every write it delivers late is refused", async () => {
    const { store, schema } = await database();
    const p = await proxy();
    const registry = new WorkflowRegistry();
    await loadWorkflowDir(registry, FIXTURES);
    const effects = join(freshDir(), "effects.log");
    writeFileSync(`${effects}.slow`, "");
    const { run } = await submitPlan(store, registry, {
      goal: "partition",
      tasks: [{ id: "job", title: "five steps", workflow: "counted", input: { effects, slowStep: 3, slowMs: 2_500, reportWorker: true } }],
    });
    const taskId = (await store.findTask(run.id, "job")).id;

    const cutoff = worker(p.through(pgUrl(schema)), "cutoff");
    await until(() => lines(effects).includes("start s3 cutoff"), 15_000, "step s3 to start behind the proxy");
    await cutOutsideTransaction(p, "cutoff");
    const cutAt = Date.now();
    rmSync(`${effects}.slow`);

    const rescuer = worker(pgUrl(schema), "rescuer");
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 15_000, "the rescuer to finish the task");
    // The cut-off drone finishes its step meanwhile and tries to journal it: the write waits in the partition.
    await until(() => lines(effects).includes("end s3 cutoff"), 10_000, "the cut-off drone's step to end");
    // Its heartbeat has hung for a whole lease: it gives the attempt up without hearing from the server.
    await until(() => cutoff.out.includes(`lost      ${run.id}/job`), 15_000, "the cut-off drone to give the lease up");
    const before = { task: await store.getTask(taskId), steps: await store.listSteps(taskId), events: await store.listEvents({ runId: run.id }) };
    // Healed: what it sent into the partition (a heartbeat, the journal entry of s3) arrives now, and the fence refuses it.
    p.restore();
    await until(async () => (await pgAdmin().unsafe<{ n: string }[]>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'cutoff%' AND state <> 'idle'"))[0]!.n === "0", 10_000, "the late writes to be answered");
    await Bun.sleep(200);

    // Nothing it delivered after the cut changed anything.
    expect(await store.getTask(taskId)).toEqual(before.task);
    expect(await store.listSteps(taskId)).toEqual(before.steps);
    expect(await store.listEvents({ runId: run.id })).toEqual(before.events);
    expect(before.task.output).toMatchObject({ sum: 150, finishedBy: "rescuer" });
    const attempts = await store.listAttempts(taskId);
    expect(attempts.map((a) => [a.worker, a.state])).toEqual([["cutoff", "crashed"], ["rescuer", "succeeded"]]);
    expect(before.steps.filter((s) => s.attemptId === attempts[0]!.id).map((s) => s.key)).toEqual(["s1", "s2"]);
    expect(before.events.filter((e) => e.actor === "cutoff" && e.at > cutAt)).toEqual([]);
    expect(lines(effects).filter((l) => l.startsWith("start s4") || l.startsWith("start s5"))).toEqual(["start s4 rescuer", "start s5 rescuer"]);
    rescuer.proc.kill("SIGTERM");
    cutoff.proc.kill("SIGTERM");
    expect(await rescuer.proc.exited).toBe(0);
  }, 60_000);

  test("a listening connection that silently stops delivering is found by its probe and replaced; wake-ups come through again", async () => {
    const { schema } = await database();
    const p = await proxy();
    const app = `probe-test-${schema}`;
    const url = withParams(p.through(pgUrl(schema)), { application_name: app });
    const droneStore = trackStore(await PostgresStore.open(url, { probeIntervalMs: 200, probeTimeoutMs: 300, poolSize: 2 }));
    cleanup.push(() => droneStore.close());
    const enqueuer = await openPgStore(schema);
    cleanup.push(() => enqueuer.close());
    const drone = new Drone({ store: droneStore, registry: new WorkflowRegistry().register(workflow("noop", async () => "ok")), maxIdleMs: 60_000, id: "idle" }).start();
    cleanup.push(() => drone.stop(1_000));
    await until(() => droneStore.listener.restarts > 0, 10_000, "the store to listen");
    const restarts = droneStore.listener.restarts;
    // Only the listening connection goes deaf; the pool still works, and nobody is told.
    expect(p.freeze(`${app}:listen`)).toBe(1);
    await until(() => droneStore.listener.restarts > restarts, 10_000, "the probe to replace the listener");
    const started = performance.now();
    const created = await enqueuer.createRun(plan(["t"]));
    await until(async () => (await enqueuer.getRun(created.id)).state === "succeeded", 10_000, "the idle drone to wake");
    expect(performance.now() - started).toBeLessThan(5_000); // its idle limit is a minute
  }, 30_000);
});
