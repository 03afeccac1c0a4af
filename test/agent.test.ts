import { describe, expect, test } from "bun:test";
import { useFakeModel } from "./fixtures/fakeModelEnv.ts";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { submitPlan } from "../src/engine/submit.ts";
import type { FakeOpenAI, FakeReply } from "./fixtures/fakeOpenAI.ts";
import { attemptWith } from "./engine-helpers.ts";
import { freshDir, freshStore, openTestStore } from "./helpers.ts";

const fakeModel = useFakeModel("fake-agent");
const model = fakeModel.model;

const call = (name: string, args: unknown): FakeReply => ({ toolCalls: [{ name, arguments: args }], usage: { inputTokens: 100, outputTokens: 20 } });

async function agentRun(task: Record<string, unknown> = {}) {
  const s = freshStore();
  const workspace = freshDir();
  writeFileSync(join(workspace, "notes.txt"), "three short notes\n");
  const { run } = await submitPlan(s.store, fakeModel.registry(), {
    goal: "g",
    tasks: [{ id: "summarize", title: "Summarize the notes", workflow: "agent", input: { instructions: "Summarize notes.txt into out/summary.txt" }, scope: { writes: ["out/**"], commands: ["cat *"] }, ...task }],
  }, { cwd: workspace });
  const taskId = (await s.store.findTask(run.id, "summarize")).id;
  return { ...s, workspace, runId: run.id, taskId, step: () => attemptWith(s.store, s.clock, fakeModel.registry()) };
}

/** Tool results the model was sent in the last request, by tool name. */
function toolResults(server: FakeOpenAI, index = -1): { name: string; content: any }[] {
  const messages = server.requests.at(index)!.body.messages as { role: string; content: string; tool_call_id?: string }[];
  return messages.filter((m) => m.role === "tool").map((m) => ({ name: m.tool_call_id ?? "", content: JSON.parse(m.content) }));
}

describe("the agent workflow", () => {
  test("reads a file, writes another inside its scope and finishes; every turn and tool call is journaled, usage summed", async () => {
    const server = model(
      call("read_file", { path: "notes.txt" }),
      call("write_file", { path: "out/summary.txt", content: "3 notes" }),
      call("finish", { summary: "wrote the summary", output: { lines: 1 } }),
    );
    const a = await agentRun();
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(readFileSync(join(a.workspace, "out", "summary.txt"), "utf8")).toBe("3 notes");
    const task = await a.store.getTask(a.taskId);
    expect(task.output).toEqual({ summary: "wrote the summary", output: { lines: 1 }, usage: { turns: 3, inputTokens: 300, outputTokens: 60, costUsd: 0 } });
    const steps = await a.store.listSteps(a.taskId);
    expect(steps.map((s) => s.key)).toEqual(["now", "turn", "tool:read_file", "turn#2", "tool:write_file", "turn#3"]);
    expect(steps[2]).toMatchObject({ input: { args: { path: "notes.txt" } }, output: { ok: true, path: "notes.txt", content: "three short notes" } });
    expect((steps[1]!.output as { usage: unknown }).usage).toEqual({ inputTokens: 100, outputTokens: 20 });
    expect(server.requests).toHaveLength(3);
    expect(server.requests[0]!.body.messages[1].content).toContain("Summarize notes.txt into out/summary.txt");
  });

  test("writes outside the scope are refused, nothing is written, and the model sees each refusal", async () => {
    const outside = freshDir();
    const server = model(
      call("write_file", { path: "src/hack.ts", content: "x" }),
      call("write_file", { path: "../escape.txt", content: "x" }),
      call("write_file", { path: join(outside, "abs.txt"), content: "x" }),
      call("write_file", { path: "out/link/evil.txt", content: "x" }),
      call("finish", { summary: "could not write" }),
    );
    const a = await agentRun();
    mkdirSync(join(a.workspace, "out"));
    symlinkSync(outside, join(a.workspace, "out", "link"));
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(existsSync(join(a.workspace, "src", "hack.ts"))).toBe(false);
    expect(existsSync(join(a.workspace, "..", "escape.txt"))).toBe(false);
    expect(existsSync(join(outside, "abs.txt"))).toBe(false);
    expect(existsSync(join(outside, "evil.txt"))).toBe(false);
    const refusals = server.requests.slice(1).map((r) => toolResults({ requests: [r] } as FakeOpenAI).at(-1)!.content);
    expect(refusals.map((r) => [r.ok, r.refused, r.code])).toEqual([
      [false, true, "not_in_write_scope"],
      [false, true, "outside_workspace"],
      [false, true, "outside_workspace"],
      [false, true, "symlink_escape"],
    ]);
    expect(refusals[0].error).toContain("this task may write: out/**");
  });

  test("a command outside the allow-list becomes a gate: approving runs it once", async () => {
    const server = model(call("run_command", { command: "touch ran.txt && echo done" }), call("finish", { summary: "ran it" }));
    const a = await agentRun();
    expect((await a.step())!.outcome).toBe("suspended");
    const [gate] = await a.store.listGates({ pendingOnly: true });
    expect(gate!.question).toBe("Task summarize wants to run `touch ran.txt && echo done`. Allow it once?");
    expect(existsSync(join(a.workspace, "ran.txt"))).toBe(false);
    await a.store.decideGate(gate!.id, { approved: true, by: "alice" });
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(existsSync(join(a.workspace, "ran.txt"))).toBe(true);
    expect(server.requests).toHaveLength(2); // the replay did not ask the model again
    expect(toolResults(server)[0]!.content).toMatchObject({ ok: true, exitCode: 0, stdout: "done\n" });
  });

  test("rejecting the command gate returns the reason to the model", async () => {
    const server = model(call("run_command", { command: "rm -rf build" }), call("finish", { summary: "did not delete" }));
    const a = await agentRun();
    await a.step();
    const [gate] = await a.store.listGates({ pendingOnly: true });
    await a.store.decideGate(gate!.id, { approved: false, by: "bob", reason: "never delete build/ here" });
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(toolResults(server)[0]!.content).toMatchObject({ ok: false, refused: true, error: "a person (bob) refused to run `rm -rf build`: never delete build/ here" });
  });

  test("a rejection with action retry starts the agent over with the reason as feedback in its prompt", async () => {
    const server = model(call("run_command", { command: "make release" }), call("finish", { summary: "redone" }));
    const a = await agentRun();
    await a.step();
    const [gate] = await a.store.listGates({ pendingOnly: true });
    await a.store.decideGate(gate!.id, { approved: false, by: "carol", reason: "do not release from here; write notes instead", action: "retry" });
    expect((await a.step())!.outcome).toBe("succeeded");
    const retryPrompt = server.requests[1]!.body.messages[1].content as string;
    expect(retryPrompt).toContain("A person rejected an earlier attempt of this task. Act on this feedback:\n- do not release from here; write notes instead");
    expect(server.requests[0]!.body.messages[1].content).not.toContain("feedback");
  });

  test("an allowed command runs without a gate", async () => {
    model(call("run_command", { command: "cat notes.txt" }), call("finish", { summary: "read" }));
    const a = await agentRun();
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(await a.store.listGates()).toEqual([]);
  });

  test("the turn budget ends the task as exhausted, never as success", async () => {
    model(call("list_files", {}), call("list_files", {}), call("list_files", {}));
    const a = await agentRun({ input: { instructions: "look around", budget: { turns: 2 } } });
    expect((await a.step())!.outcome).toBe("failed");
    const task = await a.store.getTask(a.taskId);
    expect(task).toMatchObject({ state: "failed", failReason: "exhausted", error: { code: "budget_exhausted" } });
    expect(task.error!.message).toContain("budget exhausted: turns (limit 2");
  });

  test("the token budget ends the task as exhausted", async () => {
    model({ toolCalls: [{ name: "list_files", arguments: {} }], usage: { inputTokens: 5_000, outputTokens: 10 } }, call("finish", { summary: "x" }));
    const a = await agentRun({ input: { instructions: "look", budget: { inputTokens: 4_000 } } });
    expect((await a.step())!.outcome).toBe("failed");
    expect((await a.store.getTask(a.taskId)).error!.message).toContain("budget exhausted: input tokens (limit 4000");
  });

  test("a run budget is shared by the run's agents and ends the task that would exceed it as exhausted", async () => {
    model(call("list_files", {}), call("list_files", {}), call("finish", { summary: "x" }));
    const s = freshStore();
    const workspace = freshDir();
    const { run } = await submitPlan(s.store, fakeModel.registry(), {
      goal: "g",
      budget: { inputTokens: 150 },
      tasks: [{ id: "look", title: "Look", workflow: "agent", input: { instructions: "look" } }],
    }, { cwd: workspace });
    expect(await s.store.runBudget(run.id)).toEqual({ inputTokens: 150 });
    expect((await attemptWith(s.store, s.clock, fakeModel.registry()))!.outcome).toBe("failed");
    const task = await s.store.findTask(run.id, "look");
    expect(task.failReason).toBe("exhausted");
    expect(task.error!.message).toContain("budget exhausted: run input tokens (limit 150");
    expect(await s.store.runModelUsage(run.id)).toEqual({ turns: 2, inputTokens: 200, outputTokens: 40 });
  });

  test("the plan review shows the budget envelope", async () => {
    const s = freshStore();
    const workspace = freshDir();
    await s.store.createPlanningRun("g", {
      goal: "g",
      review: "gate",
      plan: { goal: "g", budget: { costUsd: 2 }, tasks: [{ id: "fix", title: "Fix", workflow: "agent", input: { instructions: "fix it", budget: { turns: 10 } } }] },
    }, { cwd: workspace });
    expect((await attemptWith(s.store, s.clock, fakeModel.registry()))!.outcome).toBe("suspended");
    const [gate] = await s.store.listGates();
    expect((gate!.evidence as { budget: unknown }).budget).toEqual({ run: { costUsd: 2 }, tasks: { fix: { turns: 10 } } });
  });

  test("a 429 with Retry-After is honoured and the turn goes through", async () => {
    const server = model({ status: 429, headers: { "retry-after": "1" }, body: { error: { message: "slow down" } } }, call("finish", { summary: "ok" }));
    const a = await agentRun();
    const started = performance.now();
    expect((await a.step())!.outcome).toBe("succeeded");
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(server.requests).toHaveLength(2);
  });
});

describe("an agent task across a drone crash", () => {
  test("SIGKILL after two journaled turns: another drone finishes without asking the model again for them", async () => {
    const { ENTRY, until } = await import("./cli-helpers.ts");
    const server = model(
      call("list_files", {}),
      call("read_file", { path: "notes.txt" }),
      { ...call("finish", { summary: "never delivered" }), delayMs: 60_000 }, // the drone dies waiting for this turn
      call("write_file", { path: "out/summary.txt", content: "done after the crash" }),
      call("finish", { summary: "finished on the second drone" }),
    );
    const a = await agentRun();
    await a.store.close();
    const env = { ...(process.env as Record<string, string>), OPENAI_BASE_URL: server.url, FARCASTER_MODEL: "fake-agent" };
    const drone = (id: string) =>
      Bun.spawn([process.execPath, ENTRY, "worker", "--db", a.path, "--lease", "1s", "--id", id, "--quiet"], { env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const first = drone("first");
    try {
      await until(() => server.requests.length === 3, 20_000, "the third turn to be asked");
    } finally {
      first.kill("SIGKILL");
    }
    await first.exited;
    const second = drone("second");
    const { SqliteStore } = await import("../src/store/sqlite/store.ts");
    const store = openTestStore(a.path);
    try {
      await until(async () => (await store.getTask(a.taskId)).state === "succeeded", 20_000, "the second drone to finish");
    } finally {
      second.kill("SIGTERM");
      await second.exited;
    }
    expect(readFileSync(join(a.workspace, "out", "summary.txt"), "utf8")).toBe("done after the crash");
    // Each request carries the tool results so far: the journaled turns (0 and 1 results) were asked once.
    const toolMessages = server.requests.map((r) => (r.body.messages as { role: string }[]).filter((m) => m.role === "tool").length);
    expect(toolMessages).toEqual([0, 1, 2, 2, 3]);
    expect((await store.listAttempts(a.taskId)).map((x) => [x.worker, x.state])).toEqual([["first", "crashed"], ["second", "succeeded"]]);
    expect((await store.getTask(a.taskId)).output).toMatchObject({ summary: "finished on the second drone", usage: { turns: 4 } });
    await store.close();
  });
});
