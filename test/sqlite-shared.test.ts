/**
 * One writing process per SQLite file: the first long-lived store on a file
 * hosts, the others send it their writes over a Unix socket; when the host
 * goes, a client takes over and sends again what was unanswered.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { getPriority } from "node:os";
import { join } from "node:path";
import { GateNotPendingError, LeaseLostError, NotFoundError, PlanInvalidError } from "../src/core/errors.ts";
import { loadWorkflowDir, WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import { CLIENT_NICENESS, SharedSqliteStore, socketPathFor } from "../src/store/sqlite/shared/store.ts";
import { decode, encodeRequest, fromWireError, requestArgs, toWireError } from "../src/store/sqlite/shared/wire.ts";
import type { StepWrite } from "../src/store/types.ts";
import { ENTRY } from "./cli-helpers.ts";
import { trackStore } from "./fixtures/stores.ts";
import { freshDir, freshRealTimeStore, plan, rejected, until } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "workflows");

function shared(path: string): SharedSqliteStore {
  return trackStore(new SharedSqliteStore(path));
}

function step(key: string): StepWrite {
  return { key, seq: 1, kind: "step", status: "completed", input: null, output: { done: key }, error: null, startedAt: 0, endedAt: 0 };
}

describe("the wire", () => {
  test("errors come back as their own classes with their fields; omitted arguments stay omitted", () => {
    const lost = fromWireError(toWireError(new LeaseLostError(3, 7, "completing the task")));
    expect(lost).toBeInstanceOf(LeaseLostError);
    expect(lost).toMatchObject({ code: "lease_lost", message: expect.stringContaining("attempt 7 no longer holds the lease on task 3") });
    const invalid = fromWireError(toWireError(new PlanInvalidError([{ path: "tasks[0].id", message: "bad" }], "plan.json")));
    expect(invalid).toBeInstanceOf(PlanInvalidError);
    expect((invalid as PlanInvalidError).issues).toEqual([{ path: "tasks[0].id", message: "bad" }]);
    expect(fromWireError(toWireError(new RangeError("no")))).toBeInstanceOf(RangeError);
    const request = decode<{ id: number; method: string; args: unknown[]; undefinedArgs?: number[] }>(encodeRequest(1, "failTask", [1, 2, { message: "x" }, undefined]));
    expect(requestArgs(request)).toEqual([1, 2, { message: "x" }, undefined]);
    expect(requestArgs(request)).toHaveLength(4);
  });
});

describe("sharing one writer", () => {
  test("the first store hosts; a second one sends its writes there and reads what they did", async () => {
    const path = join(freshDir(), "shared.db");
    const host = shared(path);
    expect(await host.sharing()).toEqual({ role: "host", clients: 0 });
    const client = shared(path);
    expect(await client.sharing()).toEqual({ role: "client", hostPid: process.pid });
    const run = await client.createRun(plan(["a"], ["b", "a"]));
    const [a] = await client.claimTasks("w", 5, 10_000);
    await client.completeTask(a!.taskId, a!.attemptId, "done");
    expect(client.writeStats.batches).toBe(0); // every write ran in the host
    expect(host.writeStats.writes).toBeGreaterThanOrEqual(3);
    expect((await client.listTasks(run.id)).map((t) => t.state)).toEqual(["succeeded", "ready"]);
    // Typed errors cross the socket as themselves.
    expect(await rejected(client.completeTask(a!.taskId, a!.attemptId, "again"))).toBeInstanceOf(LeaseLostError);
    expect(await rejected(client.cancelRun("rnope"))).toBeInstanceOf(NotFoundError);
    expect(await rejected(client.decideGate("gnope", { approved: true, by: "x" }))).toBeInstanceOf(NotFoundError);
    void GateNotPendingError;
  });

  test("a step a client sends again after losing its host is accepted once recorded by the same attempt", async () => {
    const { store } = freshRealTimeStore();
    await store.createRun(plan(["a"]));
    const [a] = await store.claimTasks("w", 1, 10_000);
    await store.recordStep(a!.taskId, a!.attemptId, step("s1"));
    await store.recordStep(a!.taskId, a!.attemptId, step("s1")); // the same fact again: fine
    expect((await rejected(store.recordStep(a!.taskId, a!.attemptId, { ...step("s1"), output: { done: "other" } }))).message).toContain("already recorded");
    expect(await store.listSteps(a!.taskId)).toHaveLength(1);
  });

  test("when the host closes, a client takes over and its writes go on", async () => {
    const path = join(freshDir(), "handover.db");
    const host = shared(path);
    await host.sharing();
    const client = shared(path);
    await client.sharing();
    const run = await client.createRun(plan(["a"], ["b"]));
    await host.close();
    await until(async () => (await client.sharing()).role === "host", 5_000, "the client to take over");
    const claimed = await client.claimTasks("w", 2, 10_000);
    await Promise.all(claimed.map((c) => client.completeTask(c.taskId, c.attemptId, null)));
    expect((await client.getRun(run.id)).state).toBe("succeeded");
    expect(existsSync(client.socketPath)).toBe(true);
  });

  test("a host killed with SIGKILL leaves its socket file; the next store replaces it and hosts", async () => {
    const path = join(freshDir(), "stale.db");
    const script = `import { SharedSqliteStore } from ${JSON.stringify(join(import.meta.dir, "..", "src", "store", "sqlite", "shared", "store.ts"))};
      const store = new SharedSqliteStore(${JSON.stringify(path)}); console.log(JSON.stringify(await store.sharing())); await Bun.sleep(60_000);`;
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
    const reader = proc.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(JSON.parse(first)).toMatchObject({ role: "host" });
    proc.kill("SIGKILL");
    await proc.exited;
    expect(existsSync(socketPathFor(path))).toBe(true); // left behind
    const next = shared(path);
    expect(await next.sharing()).toEqual({ role: "host", clients: 0 });
  });

  test("a store whose host does not answer its hello (busy) writes directly, then joins once the host answers", async () => {
    const path = join(freshDir(), "busy.db");
    // A host that takes connections and answers nothing, as one stuck for seconds in a long transaction does.
    let answering = false;
    let connections = 0;
    const busyHost = Bun.listen({
      unix: socketPathFor(path),
      socket: {
        open: () => void connections++,
        data: (socket, chunk) => {
          if (!answering) return;
          const first = JSON.parse(new TextDecoder().decode(chunk).split("\n")[0]!) as { hello?: unknown };
          if (first.hello) socket.write(`${JSON.stringify({ welcome: { pid: 4242 } })}\n`);
        },
      },
    });
    try {
      const store = trackStore(new SharedSqliteStore(path, { helloTimeoutMs: 50, rejoinDelaysMs: [20], rejoinHelloTimeoutMs: 50 }));
      expect(await store.sharing()).toMatchObject({ role: "direct", why: expect.stringContaining("no answer to hello") });
      const run = await store.createRun(plan(["a"]));
      expect(store.writeStats.batches).toBe(1); // written here, directly
      await until(() => connections >= 3, 5_000, "the store to try again"); // and again: it keeps trying
      answering = true;
      await until(async () => (await store.sharing()).role === "client", 5_000, "the store to join the host once it answers");
      expect(await store.sharing()).toEqual({ role: "client", hostPid: 4242 });
      expect((await store.getRun(run.id)).state).toBe("running");
    } finally {
      busyHost.stop(true);
    }
  });

  test("a try to rejoin waits for a busy host's answer as long as it takes, and joins as soon as it comes; closing ends the wait", async () => {
    const path = join(freshDir(), "slow.db");
    const hellos: { answer: () => void }[] = [];
    const slowHost = Bun.listen({
      unix: socketPathFor(path),
      socket: {
        data: (socket) => void hellos.push({ answer: () => void socket.write(`${JSON.stringify({ welcome: { pid: 4343 } })}\n`) }),
      },
    });
    try {
      // The election gives up at once; the try to rejoin that follows waits (for up to a minute here).
      const store = trackStore(new SharedSqliteStore(path, { helloTimeoutMs: 20, rejoinDelaysMs: [10], rejoinHelloTimeoutMs: 60_000 }));
      expect(await store.sharing()).toMatchObject({ role: "direct" });
      await until(() => hellos.length >= 2, 5_000, "the try to rejoin to say hello");
      await store.createRun(plan(["a"])); // written directly meanwhile: nothing waits for the host
      hellos.at(-1)!.answer(); // the host's turn ended
      await until(async () => (await store.sharing()).role === "client", 5_000, "the store to join the host");
      expect(hellos).toHaveLength(2); // joined on that try's answer, without another
      // A store closing while its try still waits for an answer does not wait for it.
      const other = new SharedSqliteStore(path, { helloTimeoutMs: 20, rejoinDelaysMs: [10], rejoinHelloTimeoutMs: 60_000 });
      expect(await other.sharing()).toMatchObject({ role: "direct" });
      await until(() => hellos.length >= 4, 5_000, "the second store's try to rejoin");
      const started = performance.now();
      await other.close();
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      slowHost.stop(true);
    }
  });

  test("a socket path too long for a Unix socket moves to the temp directory", () => {
    const long = join(freshDir(), "d".repeat(120), "x.db");
    expect(socketPathFor(long).length).toBeLessThanOrEqual(100);
    expect(socketPathFor(long)).not.toBe(socketPathFor(`${long}2`));
  });
});

/** The niceness of each thread of a process (Linux keeps one per thread: /proc/PID/task/TID/stat, field 19). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      return [Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])];
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
}

describe("worker processes sharing one writer", () => {
  const spawned: Subprocess[] = [];
  afterEach(() => {
    for (const proc of spawned.splice(0)) proc.kill("SIGKILL");
  });

  /** A `farcaster worker` process on `path`, killed after the test; its stdout collected as it comes. */
  function startWorker(path: string, id: string, ...flags: string[]) {
    const proc = Bun.spawn([process.execPath, ENTRY, "worker", "--db", path, "--workflows", FIXTURES, "--id", id, ...flags], { stdout: "pipe", stderr: "pipe" });
    spawned.push(proc);
    const out = { text: "" };
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stdout) out.text += decoder.decode(chunk, { stream: true });
    })();
    return { proc, out };
  }

  test("a worker that writes through another worker's host yields the CPU to it: its niceness goes up by CLIENT_NICENESS, the host's stays", async () => {
    const { path } = freshRealTimeStore();
    const start = (id: string) => startWorker(path, id);
    const host = start("h1");
    await until(() => host.out.text.includes("writes here for others"), 20_000, "the first worker to host");
    const client = start("c1");
    await until(() => client.out.text.includes("writes through the host"), 20_000, "the second to join it");
    const own = getPriority(0);
    const niceness = (pid: number) => threadNiceness(pid);
    await until(() => niceness(client.proc.pid).every((n) => n === Math.min(19, own + CLIENT_NICENESS)), 5_000, "every thread of the client to lower its priority");
    expect(niceness(client.proc.pid).length).toBeGreaterThan(1); // its JIT's and GC's threads too, not only the main one
    expect(new Set(niceness(host.proc.pid))).toEqual(new Set([own]));
    for (const w of [host, client]) w.proc.kill("SIGTERM");
    expect(await Promise.all([host.proc.exited, client.proc.exited])).toEqual([0, 0]);
  }, 60_000);

  test("SIGKILL of the hosting worker: another takes over, and every step whose ctx.step returned is kept and never run again", async () => {
    const { store, path } = freshRealTimeStore();
    const effects = join(freshDir(), "effects.log");
    const registry = new WorkflowRegistry();
    await loadWorkflowDir(registry, FIXTURES);
    const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "journaled", input: { effects, steps: 20 } }));
    const { run } = await submitPlan(store, registry, { goal: "kill the host", tasks });
    const worker = (id: string) => startWorker(path, id, "--lease", "1s", "-c", "8");
    const lines = () => (existsSync(effects) ? readFileSync(effects, "utf8").split("\n").filter(Boolean) : []);
    const first = worker("w1");
    await until(() => first.out.text.includes("writes here for others"), 20_000, "the first worker to host");
    const others = [worker("w2"), worker("w3")];
    await until(() => others.every((w) => w.out.text.includes("writes through the host")), 20_000, "the others to join it");
    await until(() => lines().filter((l) => l.startsWith("returned")).length >= 200, 30_000, "work to get going");
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 60_000, "the survivors to finish the run");
    for (const w of others) w.proc.kill("SIGTERM");
    expect(await Promise.all(others.map((w) => w.proc.exited))).toEqual([0, 0]);

    // A step that returned to its workflow was durable: nobody ran it again afterwards (lines are in the order they happened).
    const log = lines();
    const returnedAt = new Map<string, number>();
    log.forEach((line, index) => {
      const [kind, key, s] = line.split(" ");
      if (kind === "returned" && !returnedAt.has(`${key} ${s}`)) returnedAt.set(`${key} ${s}`, index);
    });
    const ranAgain = log.flatMap((line, index) => {
      const [kind, key, s] = line.split(" ");
      const at = returnedAt.get(`${key} ${s}`);
      return kind === "ran" && at !== undefined && index > at ? [line] : [];
    });
    expect(ranAgain).toEqual([]);
    expect(returnedAt.size).toBeGreaterThanOrEqual(200);
    for (const task of await store.listTasks(run.id)) {
      const attempts = await store.listAttempts(task.id);
      expect(attempts.filter((a) => a.state === "succeeded")).toHaveLength(1);
      expect((await store.listSteps(task.id)).map((s) => s.key)).toEqual(Array.from({ length: 20 }, (_, i) => `s${i + 1}`));
    }
  }, 90_000);
});
