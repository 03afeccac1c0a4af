/**
 * A NUL (U+0000) in text people or models hand us: PostgreSQL's text cannot
 * hold it, SQLite's can. Both stores must answer alike — a clear error naming
 * the field where the text comes in (HTTP 400/422, CLI exit 1), never a 500 or
 * "unexpected error", and never a plan accepted now that fails when a drone
 * applies it. JSON values (task inputs) may hold a NUL: they are stored as
 * JSON text, and the jsonb casts that look inside them must still work.
 */
import { AttemptAbort } from "../src/engine/attemptAbort.ts";
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/api/app.ts";
import { ManualClock } from "../src/core/clock.ts";
import { validateWorkplan } from "../src/core/workplan.ts";
import { runAttempt } from "../src/engine/attempt.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import type { Store } from "../src/store/types.ts";
import { farcaster } from "./cli-helpers.ts";
import { migratedSchema, openPgStore, pgAvailable, pgUrl, schemasDroppedAfterEach } from "./fixtures/pg.ts";
import { freshDir, freshStore, rejected } from "./helpers.ts";

const NUL = "\u0000";
const GATED_GOAL = "# Ship it\n\n## build: Build\nrun: echo built\n\n## review: Review\nafter: build\ngate: Ship the build?\n";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const schemas = schemasDroppedAfterEach();

async function openStore(kind: "sqlite" | "postgres"): Promise<{ store: Store; clock: ManualClock }> {
  if (kind === "sqlite") return freshStore();
  const clock = new ManualClock(Date.parse("2026-01-05T09:00:00Z"));
  const schema = await migratedSchema();
  schemas.push(schema);
  return { store: await openPgStore(schema, { clock }), clock };
}

/** Runs drones in-process until nothing is claimable. */
async function drain(store: Store, clock: ManualClock): Promise<void> {
  for (;;) {
    const [claimed] = await store.claimTasks("w", 1, 10_000);
    if (!claimed) return;
    await runAttempt({ store, clock, worker: "w", claimed, workflow: registry.get(claimed.workflow)!, workflows: registry, claimLeaseMs: 10_000, abort: new AttemptAbort() });
  }
}

describe("the workplan refuses a NUL in its text fields", () => {
  test("a NUL in the goal, a task's title or its description is a problem naming each field", () => {
    const result = validateWorkplan({ goal: `g${NUL}`, tasks: [{ id: "a", title: `A${NUL}`, description: `d${NUL}`, workflow: "noop" }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path).sort()).toEqual(["goal", "tasks[0].description", "tasks[0].title"]);
    for (const issue of result.issues) expect(issue.message).toContain("NUL character (U+0000)");
  });
});

for (const kind of ["sqlite", "postgres"] as const) {
  describe.skipIf(kind === "postgres" && !pgAvailable)(`over HTTP on ${kind}`, () => {
    async function setup() {
      const { store, clock } = await openStore(kind);
      const app = createApp({ store, registry, cwd: freshDir() });
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await app.request(path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as any };
      };
      return { store, clock, call };
    }

    test("a NUL in a goal, a goal file's name or a task's title is a 4xx naming the field, and nothing is created", async () => {
      const { call } = await setup();
      const goal = await call("POST", "/v1/runs", { goal: `# g${NUL}x\n\n## a: A\nrun: echo\n` });
      expect({ status: goal.status, code: goal.body.error.code }).toEqual({ status: 400, code: "bad_request" });
      expect(goal.body.error.message).toContain("goal: contains a NUL character (U+0000)");
      const file = await call("POST", "/v1/runs", { goalFile: `goal${NUL}.md` });
      expect({ status: file.status, message: file.body.error.message }).toEqual({ status: 400, message: expect.stringContaining("goalFile: contains a NUL") });
      const plan = await call("POST", "/v1/runs", { workplan: { goal: "g", tasks: [{ id: "a", title: `A${NUL}B`, workflow: "noop" }] } });
      expect({ status: plan.status, code: plan.body.error.code }).toEqual({ status: 422, code: "plan_invalid" });
      expect(plan.body.error.message).toContain("tasks[0].title: contains a NUL character");
      expect((await call("GET", "/v1/runs")).body.runs).toEqual([]);
    });

    test("a NUL in a cancel reason, a rejection's reason or who decides is a 400 naming the field; the run and the gate stay as they were", async () => {
      const { store, clock, call } = await setup();
      const created = await call("POST", "/v1/runs", { goal: GATED_GOAL });
      expect(created.status).toBe(201);
      await drain(store, clock);
      const [gate] = (await call("GET", "/v1/gates")).body.gates;
      for (const [path, body, field] of [
        [`/v1/runs/${created.body.run.id}/cancel`, { reason: `x${NUL}y` }, "reason"],
        [`/v1/runs/${created.body.run.id}/cancel`, { by: `o${NUL}ps` }, "by"],
        [`/v1/runs/${created.body.run.id}/resume`, { by: `o${NUL}ps` }, "by"],
        [`/v1/gates/${gate.id}/reject`, { reason: `no${NUL}` }, "reason"],
        [`/v1/gates/${gate.id}/reject`, { reason: "no", by: NUL }, "by"],
        [`/v1/gates/${gate.id}/approve`, { by: `a${NUL}` }, "by"],
        ["/v1/events/deploy", { by: `a${NUL}` }, "by"],
        ["/v1/schedules", { name: `n${NUL}`, cron: "0 9 * * *", goal: GATED_GOAL }, "name"],
      ] as const) {
        const answer = await call("POST", path, body);
        expect({ path, status: answer.status, message: answer.body.error?.message }).toEqual({ path, status: 400, message: expect.stringContaining(`${field}: contains a NUL character`) });
      }
      expect((await store.getRun(created.body.run.id)).state).toBe("running");
      expect((await store.getGate(gate.id)).state).toBe("pending");
      expect((await call("POST", `/v1/gates/${gate.id}/reject`, { reason: "not yet", by: "ops" })).status).toBe(200);
    });
  });
}

describe.skipIf(!pgAvailable)("PostgreSQL's own refusal is an input error (the backstop behind the edges)", () => {
  test("a NUL that reaches the store in a write or a lookup is bad_input naming the cause, not a PostgresError", async () => {
    const { store } = await openStore("postgres");
    const created = await rejected(store.createPlanningRun(`g${NUL}`, { goal: "g" }));
    expect({ code: (created as { code?: string }).code, message: created.message }).toEqual({ code: "bad_input", message: expect.stringContaining("NUL character (U+0000)") });
    const run = await store.createPlanningRun("g", { goal: "g" });
    const cancelled = await rejected(store.cancelRun(run.id, { actor: "ops", reason: `x${NUL}` }));
    expect((cancelled as { code?: string }).code).toBe("bad_input");
    expect((await store.getRun(run.id)).state).toBe("planning");
    const lookup = await rejected(store.getRun(`r${NUL}`));
    expect((lookup as { code?: string }).code).toBe("bad_input");
  });

  test("a task input holding a NUL is kept exactly, and the run's budget (read through jsonb) still reads", async () => {
    const { store } = await openStore("postgres");
    const input = { command: "printf x", note: `a${NUL}b`, escaped: `\\u0000${NUL}` };
    const run = await store.createRun({ goal: "g", budget: { turns: 3 }, tasks: [{ id: "a", title: "A", workflow: "shell", input }] });
    expect(await store.runBudget(run.id)).toEqual({ turns: 3 });
    expect((await store.listTasks(run.id))[0]!.input).toEqual(input);
  });
});

describe("the CLI refuses a NUL in a goal file or a plan file, on both stores", () => {
  const stores = [["sqlite", () => join(freshDir(), "f.db")], ...(pgAvailable ? [["postgres", () => { const schema = `fct_nul_${process.pid}_${Math.random().toString(36).slice(2, 8)}`; schemas.push(schema); return pgUrl(schema); }] as const] : [])] as const;
  for (const [kind, db] of stores) {
    test(`${kind}: \`run --detach\` of a plan with a NUL in a title, or a goal file with a NUL, exits 1 with one line naming the field or the line`, async () => {
      const dir = freshDir();
      writeFileSync(join(dir, "nul.json"), JSON.stringify({ goal: "g", tasks: [{ id: "a", title: `A${NUL}B`, workflow: "shell", input: { command: "true" } }] }));
      writeFileSync(join(dir, "nul.md"), `# g\n\n## a: A${NUL}x\nrun: echo\n`);
      const url = db();
      const plan = await farcaster(["run", "nul.json", "--detach", "--db", url], { cwd: dir });
      expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 1, stderr: expect.stringContaining("tasks[0].title: contains a NUL character (U+0000)") });
      const goal = await farcaster(["run", "nul.md", "--detach", "--db", url], { cwd: dir });
      expect({ code: goal.code, lines: goal.stderr.trim().split("\n") }).toEqual({ code: 1, lines: [expect.stringContaining("nul.md line 3: contains a NUL character (U+0000)")] });
      for (const out of [plan, goal]) expect(out.stdout + out.stderr).not.toMatch(/unexpected error|\[internal\]|^\s+at /m);
    }, 20_000);
  }
});
