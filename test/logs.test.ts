import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { defineWorkflow } from "../src/engine/workflow.ts";
import { Drone } from "../src/engine/drone.ts";
import { submitPlan } from "../src/engine/submit.ts";
import shell from "../workflows/shell.ts";
import { farcaster, until } from "./cli-helpers.ts";
import { freshRealTimeStore } from "./helpers.ts";

describe("task output", () => {
  test("a shell command's output reaches the task's log while it is still running", async () => {
    const { store, path } = freshRealTimeStore();
    const registry = new WorkflowRegistry().register(shell);
    const { run } = await submitPlan(store, registry, {
      goal: "g",
      tasks: [{ id: "talk", title: "t", workflow: "shell", input: { command: "echo first; echo oops >&2; sleep 1; echo last" } }],
    });
    const drone = new Drone({ store, registry }).start();
    const task = await store.findTask(run.id, "talk");
    await until(async () => (await store.listLogs(task.id)).some((l) => l.text.includes("first")), 5_000, "the first line");
    expect((await store.getTask(task.id)).state).toBe("running");
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 10_000, "the run");
    await drone.stop();
    const logs = await store.listLogs(task.id);
    const text = (stream: string) => logs.filter((l) => l.stream === stream).map((l) => l.text).join("");
    expect(logs[0]).toMatchObject({ stream: "info", text: "$ echo first; echo oops >&2; sleep 1; echo last\n" });
    expect(text("stdout")).toBe("first\nlast\n"); // stdout and stderr are separate pipes: each keeps its own order
    expect(text("stderr")).toBe("oops\n");
    const cli = await farcaster(["logs", `${run.id}/talk`, "--db", path]);
    expect(cli.stdout.split("\n").sort()).toEqual(["", "$ echo first; echo oops >&2; sleep 1; echo last", "first", "last", "oops"]);
  });

  test("a task that logs nothing makes no log write; one that logs has its lines flushed before it completes", async () => {
    const { store } = freshRealTimeStore();
    const calls: number[] = [];
    const appendLogs = store.appendLogs.bind(store);
    store.appendLogs = (taskId, attemptId, entries) => {
      calls.push(entries.length);
      return appendLogs(taskId, attemptId, entries);
    };
    const quiet = defineWorkflow({ name: "quiet", input: z.object({}), run: async (ctx) => ctx.step("s", () => 1) });
    const chatty = defineWorkflow({ name: "chatty", input: z.object({}), run: async (ctx) => (ctx.log("stdout", "hello\n"), 2) });
    const registry = new WorkflowRegistry().register(quiet).register(chatty);
    const { run } = await submitPlan(store, registry, {
      goal: "g",
      tasks: [{ id: "q", title: "q", workflow: "quiet", input: {} }, { id: "c", title: "c", workflow: "chatty", input: {} }],
    });
    const drone = new Drone({ store, registry }).start();
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 10_000, "the run");
    await drone.stop();
    expect(calls).toEqual([1]); // the chatty task's one line; nothing for the quiet one
    expect((await store.listLogs((await store.findTask(run.id, "c")).id)).map((l) => l.text)).toEqual(["hello\n"]);
  });

});
