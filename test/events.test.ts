import { describe, expect, test } from "bun:test";
import { emitSignal } from "../src/services/signals.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { freshStore, rejected } from "./helpers.ts";

const waiter = (timeoutMs?: number) =>
  workflow("waiter", async (ctx) => {
    const before = await ctx.step("before", async () => "prepared");
    const got = await ctx.waitForEvent("deploy", { event: "deploy-approved", timeoutMs });
    return { before, got };
  });

describe("waiting for events", () => {
  test("a task waits without a lease until the event is emitted, then receives its data", async () => {
    const { store, clock } = freshStore();
    const wf = waiter();
    const { taskId, runId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("suspended");
    expect(await store.getTask(taskId)).toMatchObject({ state: "waiting", attemptId: null });
    clock.advance(3_600_000);
    expect(await attemptOnce(store, clock, wf)).toBeNull(); // time alone does not wake it
    const emitted = await emitSignal(store, "deploy-approved", { version: "1.2" }, "ci");
    expect(emitted).toMatchObject({ created: true, woken: 1 });
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect((await store.getTask(taskId)).output).toEqual({ before: "prepared", got: { received: true, data: { version: "1.2" }, at: clock.now(), by: "ci" } });
    expect((await store.listEvents()).some((e) => e.type === "signal.emitted" && e.actor === "ci")).toBe(true);
    expect((await store.getRun(runId)).state).toBe("succeeded");
  });

  test("an event emitted before the wait began resolves it at once: events are stored facts", async () => {
    const { store, clock } = freshStore();
    await emitSignal(store, "deploy-approved", "early", "ops");
    const wf = waiter();
    const { taskId } = await submitOne(store, wf);
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect((await store.getTask(taskId)).output).toMatchObject({ got: { received: true, data: "early" } });
  });

  test("an event name that is not valid is refused before anything is emitted", async () => {
    const { store } = freshStore();
    expect((await rejected(emitSignal(store, "bad name!", null, "a"))).message).toContain('event name "bad name!" is not valid');
    expect(await store.getSignal("bad name!")).toBeNull();
    expect(await store.listEvents()).toEqual([]);
  });

  test("a timeout and a late event never both win", async () => {
    const { store, clock } = freshStore();
    const wf = waiter(60_000);
    const { taskId } = await submitOne(store, wf);
    await attemptOnce(store, clock, wf);
    clock.advance(60_000);
    await emitSignal(store, "deploy-approved", "late", "ops"); // after the deadline, before the task ran again
    expect((await attemptOnce(store, clock, wf))!.outcome).toBe("succeeded");
    expect((await store.getTask(taskId)).output).toMatchObject({ got: { received: false, timedOut: true } });
  });

  test("an event emitted by the deadline wins even if the task runs after it", async () => {
    const { store, clock } = freshStore();
    const wf = waiter(60_000);
    const { taskId } = await submitOne(store, wf);
    await attemptOnce(store, clock, wf);
    clock.advance(59_000);
    await emitSignal(store, "deploy-approved", "in time", "ops");
    clock.advance(5_000); // the drone gets to it after the deadline
    await attemptOnce(store, clock, wf);
    expect((await store.getTask(taskId)).output).toMatchObject({ got: { received: true, data: "in time" } });
  });

  test("an event that races the task's suspension is not lost", async () => {
    const { store, clock } = freshStore();
    let emitNow: (() => Promise<unknown>) | null = () => emitSignal(store, "deploy-approved", "raced", "ops");
    const racing = workflow("racing", async (ctx) => {
      // The signal lands after the task looked for it and before it suspends.
      const original = store.getSignal.bind(store);
      store.getSignal = async (name) => {
        const seen = await original(name);
        if (emitNow) {
          await emitNow();
          emitNow = null;
        }
        return seen;
      };
      return ctx.waitForEvent("deploy", { event: "deploy-approved" });
    });
    const { taskId } = await submitOne(store, racing);
    expect((await attemptOnce(store, clock, racing))!.outcome).toBe("suspended");
    expect((await store.getTask(taskId)).state).toBe("ready"); // kept ready: the signal is here
    expect((await attemptOnce(store, clock, racing))!.outcome).toBe("succeeded");
    expect((await store.getTask(taskId)).output).toMatchObject({ received: true, data: "raced" });
  });
});
