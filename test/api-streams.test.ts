/** The run's event stream (task keys, keep-alive) and a task's logs (JSON and SSE), over a real loopback server. */
import { beforeAll, describe, expect, test } from "bun:test";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { SSE_KEEP_ALIVE_MS } from "../src/api/sse.ts";
import { attemptWith } from "./engine-helpers.ts";
import { sseReader, startApiServer } from "./fixtures/apiServer.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const TWO_TASKS = { goal: "g", tasks: [{ id: "build", title: "Build", workflow: "noop" }, { id: "ship.it", title: "Ship", workflow: "noop", after: ["build"] }] };

async function createRun(s: ReturnType<typeof startApiServer>, workplan: unknown = TWO_TASKS): Promise<string> {
  const response = await s.call("POST", "/v1/runs", { body: { workplan } });
  expect(response.status).toBe(201);
  return ((await response.json()) as any).run.id;
}

async function drain(s: ReturnType<typeof startApiServer>) {
  while (await attemptWith(s.store, s.clock, registry)) {}
}

/** Leases the one ready task of the run, as a drone would; returns what the store handed out. */
async function claimOne(s: ReturnType<typeof startApiServer>, key: string) {
  const [claimed] = await s.store.claimTasks("drone-1", 1, 60_000);
  expect(claimed?.key).toBe(key);
  return claimed!;
}

describe("the run's event stream", () => {
  test("every event that names a task carries the task's key as well as its id", async () => {
    const s = startApiServer(registry);
    const runId = await createRun(s);
    await drain(s);
    const events = await sseReader(await s.call("GET", `/v1/runs/${runId}/events`)).rest();
    const tasks = await s.store.listTasks(runId);
    const keyOf = new Map(tasks.map((t) => [t.id, t.key]));
    const named = events.filter((e) => e.event !== "end" && e.data.taskId !== null);
    expect(named.map((e) => `${e.event} ${e.data.taskKey}`)).toEqual([
      "task.started @plan", "task.succeeded @plan", "task.started build", "task.succeeded build", "task.started ship.it", "task.succeeded ship.it",
    ]);
    for (const event of named) expect(event.data.taskKey).toBe(keyOf.get(event.data.taskId));
    // Run-level events name no task: their key is null, not missing.
    expect(events.find((e) => e.event === "run.created")!.data).toMatchObject({ taskId: null, taskKey: null });
  });

  test("an open stream sends a keep-alive comment at the interval while nothing happens, and still delivers events", async () => {
    expect(SSE_KEEP_ALIVE_MS).toBe(15_000);
    const s = startApiServer(registry, { sseKeepAliveMs: 25 });
    const runId = await createRun(s);
    const stream = sseReader(await s.call("GET", `/v1/runs/${runId}/events`));
    expect((await stream.next())!.event).toBe("run.created");
    await stream.comments(2); // the run is idle: only keep-alives come
    await drain(s);
    const rest = await stream.rest();
    expect(rest.at(-1)!.event).toBe("end");
    expect(rest.filter((e) => e.event === "task.succeeded").map((e) => e.data.taskKey)).toEqual(["@plan", "build", "ship.it"]);
  });

  test("without an interval set, a stream of a finished run holds no keep-alive", async () => {
    const s = startApiServer(registry);
    const runId = await createRun(s);
    await drain(s);
    const stream = sseReader(await s.call("GET", `/v1/runs/${runId}/events`));
    await stream.rest();
    expect(stream.state.comments).toBe(0);
  });
});

describe("GET /v1/runs/:id/tasks/:key/logs", () => {
  test("gives a task's lines as JSON, in pages after a cursor", async () => {
    const s = startApiServer(registry);
    const runId = await createRun(s, { goal: "g", tasks: [{ id: "talk", title: "Talk", workflow: "noop" }] });
    await attemptWith(s.store, s.clock, registry); // the planning task
    const claimed = await claimOne(s, "talk");
    await s.store.appendLogs(claimed.taskId, claimed.attemptId, [
      { stream: "info", text: "$ make\n" },
      { stream: "stdout", text: "compiling\n" },
      { stream: "stderr", text: "warning: old\n" },
    ]);
    const all = (await (await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs`)).json()) as any;
    expect(all.task).toMatchObject({ key: "talk", state: "running", runId });
    expect(all.logs.map((l: any) => `${l.stream}:${l.text}`)).toEqual(["info:$ make\n", "stdout:compiling\n", "stderr:warning: old\n"]);
    const page = (await (await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs?limit=2`)).json()) as any;
    expect(page.logs.length).toBe(2);
    const next = (await (await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs?after=${page.next}`)).json()) as any;
    expect(next.logs.map((l: any) => l.text)).toEqual(["warning: old\n"]);
    expect(next.next).toBe(all.logs[2].id);
  });

  test("?follow=1 streams the lines written so far, then each new one, then `end` once the task has ended", async () => {
    const s = startApiServer(registry, { sseKeepAliveMs: 1_000 });
    const runId = await createRun(s, { goal: "g", tasks: [{ id: "talk", title: "Talk", workflow: "noop" }] });
    await attemptWith(s.store, s.clock, registry);
    const claimed = await claimOne(s, "talk");
    await s.store.appendLogs(claimed.taskId, claimed.attemptId, [{ stream: "stdout", text: "one\n" }]);
    const response = await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs?follow=1`);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const stream = sseReader(response);
    const first = (await stream.next())!;
    expect(first).toMatchObject({ event: "log", data: { text: "one\n", stream: "stdout", taskKey: "talk" } });
    expect(first.id).toBe(String(first.data.id));
    await s.store.appendLogs(claimed.taskId, claimed.attemptId, [{ stream: "stderr", text: "two\n" }]);
    expect((await stream.next())!.data.text).toBe("two\n");
    await s.store.appendLogs(claimed.taskId, claimed.attemptId, [{ stream: "stdout", text: "three\n" }]);
    await s.store.completeTask(claimed.taskId, claimed.attemptId, null);
    const rest = await stream.rest();
    expect(rest.map((e) => e.event)).toEqual(["log", "end"]);
    expect(rest[0]!.data.text).toBe("three\n");
    expect(rest[1]!.data.task).toMatchObject({ key: "talk", state: "succeeded" });
  });

  test("Accept: text/event-stream streams too, and Last-Event-ID resumes after the line it names", async () => {
    const s = startApiServer(registry);
    const runId = await createRun(s, { goal: "g", tasks: [{ id: "talk", title: "Talk", workflow: "noop" }] });
    await attemptWith(s.store, s.clock, registry);
    const claimed = await claimOne(s, "talk");
    await s.store.appendLogs(claimed.taskId, claimed.attemptId, [{ stream: "stdout", text: "a\n" }, { stream: "stdout", text: "b\n" }, { stream: "stdout", text: "c\n" }]);
    await s.store.completeTask(claimed.taskId, claimed.attemptId, null);
    const whole = await sseReader(await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs`, { headers: { accept: "text/event-stream" } })).rest();
    expect(whole.map((e) => e.data.text ?? e.event)).toEqual(["a\n", "b\n", "c\n", "end"]);
    const resumed = await sseReader(await s.call("GET", `/v1/runs/${runId}/tasks/talk/logs?follow=1`, { headers: { "last-event-id": whole[0]!.id! } })).rest();
    expect(resumed.map((e) => e.data.text ?? e.event)).toEqual(["b\n", "c\n", "end"]);
  });

  test("an unknown run or task is a 404, a bad cursor a 400, before any stream starts", async () => {
    const s = startApiServer(registry);
    const runId = await createRun(s);
    await drain(s);
    const unknownTask = await s.call("GET", `/v1/runs/${runId}/tasks/nope/logs?follow=1`);
    expect(unknownTask.status).toBe(404);
    expect(((await unknownTask.json()) as any).error.code).toBe("task_not_found");
    expect((await s.call("GET", "/v1/runs/rnope/tasks/build/logs")).status).toBe(404);
    const badQuery = await s.call("GET", `/v1/runs/${runId}/tasks/build/logs?after=-1`);
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as any).error.message).toMatch(/after/);
    expect((await s.call("GET", `/v1/runs/${runId}/tasks/build/logs?colour=red`)).status).toBe(400);
    const badHeader = await s.call("GET", `/v1/runs/${runId}/tasks/build/logs?follow=1`, { headers: { "last-event-id": "soon" } });
    expect(badHeader.status).toBe(400);
    expect(((await badHeader.json()) as any).error.message).toBe('Last-Event-ID (a log id) must be a whole number written in digits (0, 1, 2, ...) (got "soon")');
  });
});
