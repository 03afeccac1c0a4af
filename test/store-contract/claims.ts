/** Claiming: which ready tasks a worker gets, in which order, and that no task is handed out twice. */
import { rejected } from "../helpers.ts";
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimOne, eventsOf, gateRequest, plan, step, tasks } from "./support.ts";

const many = (n: number) => plan(...Array.from({ length: n }, (_, i) => [`t${i}`] as [string]));

export function claimContract(open: OpenDb): void {
  describe("claiming", () => {
    test("a claim takes ready tasks by priority, higher first, then in plan order, up to its limit", async () => {
      const { store } = await open();
      const run = await store.createRun(tasks({ id: "low", priority: -5 }, { id: "first" }, { id: "urgent", priority: 10 }, { id: "second" }));
      const claimed = await store.claimTasks("w1", 3, 10_000);
      expect(claimed.map((c) => c.key)).toEqual(["urgent", "first", "second"]);
      expect(claimed.every((c) => c.runId === run.id && c.attempt === 1)).toBe(true);
      expect((await store.claimTasks("w2", 10, 10_000)).map((c) => c.key)).toEqual(["low"]);
      expect(await store.claimTasks("w3", 10, 10_000)).toEqual([]);
    });

    test("among tasks of equal priority, the one ready longest is claimed first, before a task that comes earlier in the plan", async () => {
      const { store, clock } = await open({ random: () => 0 });
      await store.createRun(tasks({ id: "early", retries: 1 }, { id: "late" }));
      const early = await claimOne(store);
      expect(early.key).toBe("early");
      const { availableAt } = await store.failTask(early.taskId, early.attemptId, { message: "flake" });
      clock.set(availableAt!);
      expect((await store.claimTasks("w", 2, 10_000)).map((c) => c.key)).toEqual(["late", "early"]);
    });

    test("a claimed task carries what its worker needs: the run and its directory, key, workflow, input, attempt, limits, lease expiry, title, description and scope", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(
        tasks({ id: "build", title: "Build", description: "make it", workflow: "shell", input: { command: "make" }, retries: 2, timeout: 60_000, scope: { writes: ["out/**"], commands: [] } }),
        { cwd: "/work/project" },
      );
      const task = await store.findTask(run.id, "build");
      const [claimed] = await store.claimTasks("drone-1", 1, 30_000);
      expect(claimed).toEqual({
        taskId: task.id, attemptId: expect.any(Number), runId: run.id, key: "build", workflow: "shell", input: { command: "make" }, attempt: 1, maxAttempts: 3,
        timeoutMs: 60_000, leaseExpiresAt: clock.now() + 30_000, feedback: [], scope: { writes: ["out/**"], commands: [] }, title: "Build", description: "make it", cwd: "/work/project", deps: {},
      });
    });

    test("a claim puts the task in running under a new attempt of the worker, with a task.started event", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["a"]));
      const claimed = await claimOne(store, "drone-1", 5_000);
      expect(await store.getTask(claimed.taskId)).toMatchObject({
        state: "running", attemptId: claimed.attemptId, leaseOwner: "drone-1", leaseExpiresAt: clock.now() + 5_000, attempts: 1, startedAt: clock.now(),
      });
      expect(await store.listAttempts(claimed.taskId)).toEqual([
        { id: claimed.attemptId, taskId: claimed.taskId, number: 1, worker: "drone-1", state: "running", startedAt: clock.now(), heartbeatAt: clock.now(), endedAt: null, error: null },
      ]);
      const [started] = await eventsOf(store, "task.started", { runId: run.id });
      expect(started).toMatchObject({ actor: "drone-1", runId: run.id, taskId: claimed.taskId, attemptId: claimed.attemptId, at: clock.now(), data: { attempt: 1 } });
    });

    test("every claimed task gets its own attempt id, and blocked, running and waiting tasks are never claimed", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"], ["b"], ["c"], ["after", "a"]));
      const claimed = await store.claimTasks("w", 2, 10_000);
      expect(new Set(claimed.map((c) => c.attemptId)).size).toBe(2);
      await store.suspendTask(claimed[0]!.taskId, claimed[0]!.attemptId, { reason: "waits for a person" });
      const rest = await store.claimTasks("w", 10, 10_000);
      expect(rest.map((c) => c.key)).toEqual(["c"]);
      expect(await store.claimTasks("w", 10, 10_000)).toEqual([]);
    });

    test("a worker that names its workflows is given only tasks of those workflows", async () => {
      const { store } = await open();
      await store.createRun(tasks({ id: "a", workflow: "shell" }, { id: "b", workflow: "agent" }, { id: "c", workflow: "review" }));
      expect((await store.claimTasks("w", 5, 1_000, { workflows: ["agent"] })).map((c) => c.key)).toEqual(["b"]);
      expect((await store.claimTasks("w", 5, 1_000, { workflows: ["review", "nothing-like-it"] })).map((c) => c.key)).toEqual(["c"]);
      expect((await store.claimTasks("w", 5, 1_000)).map((c) => c.key)).toEqual(["a"]);
    });

    test("a workflow named twice in a claim still gives each task one attempt", async () => {
      const { store } = await open();
      await store.createRun(tasks({ id: "a", workflow: "shell" }, { id: "b", workflow: "shell" }, { id: "c", workflow: "agent" }));
      const claimed = await store.claimTasks("w", 5, 10_000, { workflows: ["shell", "agent", "shell"] });
      expect(claimed.map((c) => c.key).sort()).toEqual(["a", "b", "c"]);
      for (const task of claimed) expect((await store.listAttempts(task.taskId)).map((a) => a.state)).toEqual(["running"]);
    });

    test("a claim over several workflows, some with nothing ready, takes the best of the others in priority order, and a run filter still holds", async () => {
      const { store } = await open();
      const run = await store.createRun(
        tasks({ id: "s-low", workflow: "shell", priority: -1 }, { id: "r", workflow: "review" }, { id: "s-high", workflow: "shell", priority: 3 }, { id: "n", workflow: "noop" }),
      );
      const other = await store.createRun(tasks({ id: "elsewhere", workflow: "review", priority: 9 }));
      const mine = { runId: run.id, workflows: ["agent", "review", "shell"] };
      expect((await store.claimTasks("w", 2, 1_000, mine)).map((c) => c.key)).toEqual(["s-high", "r"]);
      expect((await store.claimTasks("w", 5, 1_000, mine)).map((c) => c.key)).toEqual(["s-low"]);
      expect(await store.claimTasks("w", 5, 1_000, mine)).toEqual([]); // agent never had any; the rest are taken
      expect((await store.claimTasks("w", 5, 1_000, { workflows: ["agent", "review"] })).map((c) => [c.runId, c.key])).toEqual([[other.id, "elsewhere"]]);
      expect((await store.claimTasks("w", 5, 1_000)).map((c) => c.key)).toEqual(["n"]);
    });

    test("a run filter, workflows and the limit combine in one claim", async () => {
      const { store } = await open();
      const mixed = (prefix: string) => ["shell", "agent", "shell", "review"].map((workflow, i) => ({ id: `${prefix}${i}`, workflow }));
      const one = await store.createRun(tasks(...mixed("x")));
      await store.createRun(tasks(...mixed("y")));
      const filter = { runId: one.id, workflows: ["shell", "review"] };
      expect((await store.claimTasks("w", 2, 1_000, filter)).map((c) => c.key)).toEqual(["x0", "x2"]);
      expect((await store.claimTasks("w", 7, 1_000, filter)).map((c) => c.key)).toEqual(["x3"]);
      expect((await store.claimTasks("w", 7, 1_000, { workflows: ["agent"] })).map((c) => c.key)).toEqual(["x1", "y1"]);
      expect((await store.claimTasks("w", 7, 1_000, { runId: one.id })).map((c) => c.key)).toEqual([]);
    });

    test("two stores on one database never claim the same task", async () => {
      const { store, another } = await open();
      const other = await another();
      await store.createRun(many(50));
      const seen = new Set<number>();
      for (let round = 0; round < 30; round++) {
        const [a, b] = await Promise.all([store.claimTasks("w1", 2, 10_000), other.claimTasks("w2", 2, 10_000)]);
        for (const claim of [...a, ...b]) {
          expect(seen.has(claim.taskId)).toBe(false);
          seen.add(claim.taskId);
        }
      }
      expect(seen.size).toBe(50);
    });

    test("claims and completions started together on one store each get their own task and all commit", async () => {
      const { store } = await open();
      const run = await store.createRun(many(10));
      const claimed = (await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimTasks(`w${i}`, 1, 10_000)))).flat();
      expect(new Set(claimed.map((c) => c.taskId)).size).toBe(10);
      await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, c.key)));
      expect(await store.getRun(run.id)).toMatchObject({ state: "succeeded", tasksOpen: 0 });
    });

    test("a limit that is not a whole number of at least 0 is refused with a RangeError, and nothing is claimed", async () => {
      const { store } = await open();
      const run = await store.createRun(plan(["a"]));
      for (const limit of [1.5, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await rejected(store.claimTasks("w", limit, 1_000))).toBeInstanceOf(RangeError);
      }
      expect((await store.findTask(run.id, "a")).state).toBe("ready");
      expect(await store.claimTasks("w", 3, 1_000)).toHaveLength(1);
    });

    test("a claim with limit 0 claims nothing but is an upkeep pass: expired leases are reclaimed, sleepers woken and due gates swept", async () => {
      const { store, clock } = await open();
      const run = await store.createRun(plan(["held"], ["sleeper"], ["asker"]));
      const [held, sleeper, asker] = await store.claimTasks("w", 3, 1_000);
      await store.suspendTask(sleeper!.taskId, sleeper!.attemptId, { reason: "sleep", until: clock.now() + 500 });
      await store.suspendTask(asker!.taskId, asker!.attemptId, { reason: "approval", step: step("approve", 1, { kind: "approval", status: "waiting", endedAt: null }), gate: gateRequest("g-up", { timeoutAt: clock.now() + 500 }) });
      clock.advance(1_001);
      expect(await store.claimTasks("upkeep", 0, 1_000)).toEqual([]);
      expect(await store.getTask(held!.taskId)).toMatchObject({ state: "ready", crashes: 1 });
      expect((await store.getTask(sleeper!.taskId)).state).toBe("ready");
      expect((await store.getGate("g-up")).state).toBe("expired");
      expect((await store.findTask(run.id, "asker")).state).toBe("failed");
      expect((await store.listTasks(run.id)).filter((t) => t.state === "running")).toEqual([]);
    });

    test("a claim that finds expired leases hands their tasks out again in the same call", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const a = await claimOne(store, "w1", 10);
      clock.advance(11);
      const claimed = await store.claimTasks("w2", 5, 10_000);
      expect(claimed.map((c) => [c.key, c.attempt])).toEqual([["b", 1], ["a", 2]]);
      expect(claimed[1]!.taskId).toBe(a.taskId);
    });

    test("tasks whose retry or sleep lies in the future are not claimed until their time", async () => {
      const { store, clock } = await open({ random: () => 0 });
      await store.createRun(tasks({ id: "flaky", retries: 1 }, { id: "sleepy" }));
      const [flaky, sleepy] = await store.claimTasks("w", 2, 10_000);
      const { availableAt } = await store.failTask(flaky!.taskId, flaky!.attemptId, { message: "boom" });
      await store.suspendTask(sleepy!.taskId, sleepy!.attemptId, { reason: "sleep", until: availableAt! + 100 });
      clock.set(availableAt! - 1);
      expect(await store.claimTasks("w", 5, 10_000)).toEqual([]);
      clock.set(availableAt!);
      expect((await store.claimTasks("w", 5, 10_000)).map((c) => c.key)).toEqual(["flaky"]);
      clock.set(availableAt! + 100);
      expect((await store.claimTasks("w", 5, 10_000)).map((c) => c.key)).toEqual(["sleepy"]);
    });
  });
}
