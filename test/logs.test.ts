import { describe, expect, test } from "bun:test";
import { WorkflowRegistry } from "../src/engine/registry.ts";
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

});
