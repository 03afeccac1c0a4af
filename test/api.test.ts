import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/api/app.ts";
import { tokensMatch } from "../src/api/auth.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { attemptWith } from "./engine-helpers.ts";
import { freshDir, freshStore } from "./helpers.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const GATED_GOAL = "# Ship it\n\n## build: Build\nrun: echo built\n\n## review: Review\nafter: build\ngate: Ship the build?\n";

function setup(options: { token?: string; bodyLimitBytes?: number } = {}) {
  const { store, clock } = freshStore();
  const cwd = freshDir();
  const app = createApp({ store, registry, cwd, ...options });
  const call = (method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}) =>
    app.request(path, {
      method,
      headers: { "content-type": "application/json", ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...init.headers },
      body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    });
  return { store, clock, cwd, app, call };
}

async function json(response: Response) {
  return { status: response.status, body: (await response.json()) as any };
}

/** Runs drones in-process (ManualClock) until nothing is claimable. */
async function drain(s: ReturnType<typeof setup>) {
  while (await attemptWith(s.store, s.clock, registry)) {}
}

describe("POST /v1/runs", () => {
  test("creates a run from a goal text carrying a plan; 201 with the run", async () => {
    const s = setup();
    const { status, body } = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    expect(status).toBe(201);
    expect(body).toMatchObject({ created: true, run: { state: "planning", source: "api", goal: "Ship it" } });
    await drain(s);
    const run = await json(await s.call("GET", `/v1/runs/${body.run.id}`));
    expect(run.body.tasks.map((t: { key: string; state: string }) => `${t.key}:${t.state}`)).toEqual(["@plan:succeeded", "build:succeeded", "review:waiting"]);
  });

  test("creates a run from a goal file on the server and from a workplan object", async () => {
    const s = setup();
    writeFileSync(join(s.cwd, "goal.md"), GATED_GOAL);
    const fromFile = await json(await s.call("POST", "/v1/runs", { body: { goalFile: "goal.md" } }));
    expect(fromFile.status).toBe(201);
    expect(fromFile.body.run.source).toBe(join(s.cwd, "goal.md"));
    const plan = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", input: {} }] };
    const fromPlan = await json(await s.call("POST", "/v1/runs", { body: { workplan: plan } }));
    expect(fromPlan.status).toBe(201);
  });

  test("the same Idempotency-Key returns the same run with 200 instead of creating another", async () => {
    const s = setup();
    const headers = { "idempotency-key": "deploy-42" };
    const first = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL }, headers }));
    const second = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL }, headers }));
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ created: false, run: { id: first.body.run.id } });
    expect((await s.store.listRuns()).length).toBe(1);
  });

  test("bad requests are 4xx with a JSON error naming the problem, and nothing is written", async () => {
    const s = setup();
    const cases: [unknown, number, string, RegExp][] = [
      [undefined, 400, "bad_json", /request body is not valid JSON/],
      [{}, 400, "bad_request", /give exactly one of goal, goalFile or workplan/],
      [{ goal: GATED_GOAL, workplan: {} }, 400, "bad_request", /exactly one/],
      [{ goal: 42 }, 400, "bad_request", /goal: Invalid input: expected string, received number/],
      [{ goal: GATED_GOAL, colour: "red" }, 400, "bad_request", /colour/],
      [{ goal: "# g\n\n## a: A\nafter: b\nrun: true\n" }, 422, "plan_invalid", /unknown task "b"/],
      [{ goal: "Write a poem" }, 400, "bad_input", /no model is configured/],
      [{ goalFile: "missing.md" }, 400, "bad_input", /does not exist/],
      [{ workplan: { goal: "g", tasks: [{ id: "a", title: "A", workflow: "nope" }] } }, 422, "plan_invalid", /unknown workflow "nope"/],
    ];
    for (const [payload, status, code, message] of cases) {
      const response = await s.call("POST", "/v1/runs", payload === undefined ? { raw: "{not json" } : { body: payload });
      const { body } = await json(response);
      expect([response.status, body.error.code]).toEqual([status, code]);
      expect(body.error.message).toMatch(message);
    }
    expect(await s.store.listRuns()).toEqual([]);
  });

  test("an oversized body is refused with 413", async () => {
    const s = setup({ bodyLimitBytes: 1024 });
    const { status, body } = await json(await s.call("POST", "/v1/runs", { body: { goal: "x".repeat(5000) } }));
    expect(status).toBe(413);
    expect(body.error.code).toBe("body_too_large");
  });
});

describe("reading runs", () => {
  test("list, get with tasks, a task's journal; unknown ids are 404", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    await drain(s);
    const list = await json(await s.call("GET", "/v1/runs?limit=5&unfinished=true"));
    expect(list.body.runs.map((r: { id: string }) => r.id)).toEqual([created.body.run.id]);
    const journal = await json(await s.call("GET", `/v1/runs/${created.body.run.id}/tasks/build/journal`));
    expect(journal.status).toBe(200);
    expect(journal.body.steps[0]).toMatchObject({ key: "command", kind: "step", status: "completed", input: { command: "echo built" } });
    expect(journal.body.attempts).toHaveLength(1);
    for (const path of ["/v1/runs/rnope", "/v1/runs/rnope/tasks/x/journal", `/v1/runs/${created.body.run.id}/tasks/nope/journal`, "/v1/gates/gnope", "/v1/nowhere"]) {
      const { status, body } = await json(await s.call("GET", path));
      expect(status).toBe(404);
      expect(body.error.code).toMatch(/not_found$/);
    }
    expect((await s.call("GET", "/v1/runs?limit=0")).status).toBe(400);
    expect((await s.call("GET", "/v1/runs?limit=ten")).status).toBe(400);
  });

  test("a 404 for a run, a task, a gate or a schedule says which route lists them, not a CLI command", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    const runId = created.body.run.id;
    for (const [path, message] of [
      ["/v1/runs/rnope", 'run "rnope" not found; list runs with GET /v1/runs'],
      [`/v1/runs/${runId}/tasks/nope/journal`, `task "${runId}/nope" not found; list the run's tasks with GET /v1/runs/${runId}`],
      ["/v1/gates/gnope", 'gate "gnope" not found; list pending gates with GET /v1/gates'],
      ["/v1/schedules/nope", 'schedule "nope" not found; list schedules with GET /v1/schedules'],
    ] as const) {
      const { status, body } = await json(await s.call("GET", path));
      expect({ path, status, message: body.error.message }).toEqual({ path, status: 404, message });
    }
  });

  test("resume reopens a cancelled run; resuming a succeeded run is 409; unknown runs 404", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    await s.call("POST", `/v1/runs/${created.body.run.id}/cancel`, { body: {} });
    const resumed = await json(await s.call("POST", `/v1/runs/${created.body.run.id}/resume`, { body: { by: "ops" } }));
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ reopened: 1, run: { state: "planning" } });
    await drain(s);
    const [gate] = (await json(await s.call("GET", "/v1/gates"))).body.gates;
    await s.call("POST", `/v1/gates/${gate.id}/approve`, { body: {} });
    await drain(s);
    const again = await json(await s.call("POST", `/v1/runs/${created.body.run.id}/resume`, {}));
    expect(again.status).toBe(409);
    expect((await s.call("POST", "/v1/runs/rnope/resume", {})).status).toBe(404);
  });

  test("cancel a run; cancelling a finished run is 409", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    const cancelled = await json(await s.call("POST", `/v1/runs/${created.body.run.id}/cancel`, { body: { reason: "not today", by: "ops" } }));
    expect(cancelled.body.run.state).toBe("cancelled");
    const plan = await json(await s.call("POST", "/v1/runs", { body: { workplan: { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }] } } }));
    await drain(s);
    const again = await json(await s.call("POST", `/v1/runs/${plan.body.run.id}/cancel`, {}));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("invalid_transition");
  });
});

describe("gates over HTTP", () => {
  test("list pending gates, approve one; a second decision is 409 and the first stands", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    await drain(s);
    const gates = await json(await s.call("GET", `/v1/gates?runId=${created.body.run.id}`));
    expect(gates.body.gates).toHaveLength(1);
    const gate = gates.body.gates[0];
    expect(gate).toMatchObject({ question: "Ship the build?", taskKey: "review", state: "pending" });
    const approved = await json(await s.call("POST", `/v1/gates/${gate.id}/approve`, { body: { by: "alice" } }));
    expect(approved.body.gate).toMatchObject({ state: "approved", decidedBy: "alice" });
    const twice = await json(await s.call("POST", `/v1/gates/${gate.id}/reject`, { body: { reason: "too late" } }));
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("gate_not_pending");
    await drain(s);
    expect((await s.store.getRun(created.body.run.id)).state).toBe("succeeded");
  });

  test("a rejection needs a reason; with action retry the task starts over with it as feedback", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { goal: GATED_GOAL } }));
    await drain(s);
    const [gate] = (await json(await s.call("GET", "/v1/gates"))).body.gates;
    const noReason = await json(await s.call("POST", `/v1/gates/${gate.id}/reject`, { body: {} }));
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.message).toContain("a rejection needs a reason");
    const badAction = await s.call("POST", `/v1/gates/${gate.id}/reject`, { body: { reason: "x", action: "explode" } });
    expect(badAction.status).toBe(400);
    const rejected = await json(await s.call("POST", `/v1/gates/${gate.id}/reject`, { body: { reason: "add release notes", action: "retry", by: "bob" } }));
    expect(rejected.body.gate).toMatchObject({ state: "rejected", action: "retry", reason: "add release notes" });
    const review = await s.store.findTask(created.body.run.id, "review");
    expect(review.feedback.map((f) => f.reason)).toEqual(["add release notes"]);
  });
});

describe("auth", () => {
  test("with a token, every route but /healthz needs it; wrong or missing tokens are 401", async () => {
    const s = setup({ token: "s3cret" });
    expect((await s.app.request("/healthz")).status).toBe(200);
    const missing = await json(await s.app.request("/v1/runs"));
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toContain("Authorization: Bearer");
    expect((await s.app.request("/v1/runs", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await s.app.request("/v1/runs", { headers: { authorization: "Basic s3cret" } })).status).toBe(401);
    expect((await s.app.request("/v1/runs", { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
  });

  test("tokens compare equal only when equal, whatever their lengths", () => {
    expect(tokensMatch("abc", "abc")).toBe(true);
    expect(tokensMatch("abc", "abd")).toBe(false);
    expect(tokensMatch("abc", "abcd")).toBe(false);
    expect(tokensMatch("", "abc")).toBe(false);
  });
});

describe("the event stream", () => {
  test("streams a run's events as SSE, resumes after Last-Event-ID, and ends when the run ends", async () => {
    const s = setup();
    const created = await json(await s.call("POST", "/v1/runs", { body: { workplan: { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }] } } }));
    await drain(s);
    const text = await (await s.call("GET", `/v1/runs/${created.body.run.id}/events`)).text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types).toEqual(["run.created", "task.started", "run.planned", "task.succeeded", "task.started", "task.succeeded", "run.succeeded", "end"]);
    const resumed = await (await s.call("GET", `/v1/runs/${created.body.run.id}/events`, { headers: { "last-event-id": String(ids[3]) } })).text();
    expect([...resumed.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(["task.started", "task.succeeded", "run.succeeded", "end"]);
    expect((await s.call("GET", `/v1/runs/${created.body.run.id}/events`, { headers: { "last-event-id": "soon" } })).status).toBe(400);
    expect((await s.call("GET", "/v1/runs/rnope/events")).status).toBe(404);
    // An event id is digits: what Number() would also read ("1e3", "0x10", "") is named, not guessed.
    for (const [header, value] of [["last-event-id", "1e3"], ["last-event-id", "0x10"], ["last-event-id", ""], ["after", "1e3"], ["after", ""]] as const) {
      const path = `/v1/runs/${created.body.run.id}/events${header === "after" ? `?after=${value}` : ""}`;
      const answer = await json(await s.call("GET", path, header === "after" ? {} : { headers: { [header]: value } }));
      expect({ header, value, status: answer.status, message: answer.body.error?.message }).toEqual({
        header, value, status: 400, message: `${header === "after" ? "after" : "Last-Event-ID"} (an event id) must be a whole number written in digits (0, 1, 2, ...) (got "${value}")`,
      });
    }
  });

  test("a query parameter given twice, or a number not written in digits, is a 400 naming it", async () => {
    const s = setup();
    for (const [path, message] of [
      ["/v1/runs?limit=5&limit=7", "invalid query: limit: given 2 times; give it once"],
      ["/v1/runs?limit=1e1", "invalid query: limit: must be a whole number written in digits (0, 1, 2, ...)"],
      ["/v1/runs?limit=0x10", "invalid query: limit: must be a whole number written in digits (0, 1, 2, ...)"],
      ["/v1/runs?limit=", "invalid query: limit: must be a whole number written in digits (0, 1, 2, ...)"],
      ["/v1/runs?limit=501", "invalid query: limit: Too big: expected number to be <=500"],
      ["/v1/gates?all=true&all=false", "invalid query: all: given 2 times; give it once"],
      ["/v1/runs/rnope/events?after=1&after=9", "invalid query: after: given 2 times; give it once"],
      ["/v1/runs?colour=red", "invalid query: query: Unrecognized key: \"colour\""],
    ] as const) {
      const { status, body } = await json(await s.call("GET", path));
      expect({ path, status, message: body.error.message }).toEqual({ path, status: 400, message });
    }
    expect((await s.call("GET", "/v1/runs?limit=07")).status).toBe(200);
  });
});

describe("numbers JSON cannot hold", () => {
  test("an event's data or a workplan's task input with 1e999 is a 4xx naming where it is, and nothing is stored (it used to be stored as null)", async () => {
    const s = setup();
    const event = await json(await s.call("POST", "/v1/events/big", { raw: '{"data":{"n":1e999}}' }));
    expect(event.status).toBe(400);
    expect(event.body.error).toMatchObject({ code: "bad_input", message: expect.stringContaining("data.n is a number JSON cannot hold") });
    expect((await s.call("GET", "/v1/events/big")).status).toBe(404);
    const plan = await json(await s.call("POST", "/v1/runs", { raw: '{"workplan":{"goal":"g","tasks":[{"id":"a","title":"A","workflow":"noop","input":{"x":1e999}}]}}' }));
    expect(plan.status).toBe(422);
    expect(plan.body.error.code).toBe("plan_invalid");
    expect(JSON.stringify(plan.body.error.details)).toContain("tasks[0].input.x");
    expect(await s.store.listRuns()).toEqual([]);
  });
});

describe("who acts and why", () => {
  test("a blank or overlong `by` and an overlong reason are 400s naming the field, before any gate or run is looked up", async () => {
    const s = setup();
    for (const [path, body, field] of [
      ["/v1/gates/g-none/approve", { by: "   " }, "by"],
      ["/v1/gates/g-none/reject", { reason: "no", by: "x".repeat(201) }, "by"],
      ["/v1/gates/g-none/reject", { reason: "x".repeat(16_001) }, "reason"],
      ["/v1/runs/r-none/cancel", { by: "" }, "by"],
      ["/v1/events/who", { by: " " }, "by"],
    ] as const) {
      const { status, body: answer } = await json(await s.call("POST", path, { body }));
      expect({ path, status, field: answer.error.details?.[0]?.path }).toEqual({ path, status: 400, field });
    }
    expect((await s.call("GET", "/v1/events/who")).status).toBe(404);
  });
});
