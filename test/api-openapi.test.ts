/** GET /openapi.json and the Location header of every 201, over a real loopback server. */
import { beforeAll, describe, expect, spyOn, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { z } from "zod";
import { documented } from "../src/api/openapi.ts";
import { REJECT_ACTIONS } from "../src/core/states.ts";
import { loadWorkflows, type WorkflowRegistry } from "../src/engine/registry.ts";
import { startApiServer } from "./fixtures/apiServer.ts";

let registry: WorkflowRegistry;
beforeAll(async () => {
  registry = await loadWorkflows({ cwd: "/" });
});

const PLAN = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }] };
const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** Hono's `/runs/:id` as OpenAPI writes it: `/runs/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

describe("GET /openapi.json", () => {
  test("documents every route of the app (method and path), walked from Hono's app.routes", async () => {
    const s = startApiServer(registry, { token: "s3cret" });
    const response = await fetch(`${s.url}/openapi.json`); // public: no token sent
    expect(response.status).toBe(200);
    const document = (await response.json()) as any;
    // Middleware (bearer token, body limit) is mounted as ALL /v1/*: not a route a client calls.
    const routes = new Set(s.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${openApiPath(r.path)}`));
    expect(routes.size).toBeGreaterThan(20);
    const documentedRoutes = new Set<string>();
    for (const [path, item] of Object.entries<any>(document.paths)) for (const method of METHODS) if (item[method]) documentedRoutes.add(`${method.toUpperCase()} ${path}`);
    expect([...routes].filter((r) => !documentedRoutes.has(r))).toEqual([]);
    expect([...documentedRoutes].filter((r) => !routes.has(r))).toEqual([]);
    for (const route of ["GET /healthz", "GET /openapi.json", "POST /v1/runs", "GET /v1/runs/{id}/events", "DELETE /v1/schedules/{name}"]) expect(routes.has(route)).toBe(true);
  });

  test("is a valid OpenAPI 3.1 document by the specification's own JSON Schema", async () => {
    const s = startApiServer(registry);
    const document = (await (await fetch(`${s.url}/openapi.json`)).json()) as any;
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("request bodies and queries are the zod schemas the routes validate with, as a client sends them", async () => {
    const s = startApiServer(registry);
    const document = (await (await fetch(`${s.url}/openapi.json`)).json()) as any;
    const createRun = document.paths["/v1/runs"].post.requestBody.content["application/json"].schema;
    expect(createRun).toMatchObject({ type: "object", additionalProperties: false });
    expect(Object.keys(createRun.properties).sort()).toEqual(["goal", "goalFile", "review", "workplan"]);
    expect(createRun.properties.goal.description).toBe("the goal as text (Markdown; may carry a plan)");
    // `review` has a default: a client may leave it out.
    expect(createRun.required ?? []).not.toContain("review");
    const reject = document.paths["/v1/gates/{id}/reject"].post.requestBody.content["application/json"].schema;
    expect(reject.required).toEqual(["reason"]);
    expect(reject.properties.action.enum).toEqual([...REJECT_ACTIONS]);
    const addSchedule = document.paths["/v1/schedules"].post.requestBody.content["application/json"].schema;
    expect(addSchedule.required.sort()).toEqual(["cron", "name"]);
    const listRuns = document.paths["/v1/runs"].get.parameters;
    expect(listRuns.map((p: any) => [p.name, p.in, p.required])).toEqual([["limit", "query", false], ["unfinished", "query", false]]);
    expect(listRuns[0].schema).toMatchObject({ type: "integer", minimum: 1, maximum: 500, default: 50 });
    const journal = document.paths["/v1/runs/{id}/tasks/{key}/journal"].get.parameters;
    expect(journal.map((p: any) => `${p.in} ${p.name}`)).toEqual(["path id", "path key"]);
    // A body that the document says is valid is accepted by the route: both read the same schema.
    const response = await s.call("POST", "/v1/runs", { body: { workplan: PLAN } });
    expect(response.status).toBe(201);
  });

  test("says which routes need the bearer token when the server has one, and none when it has not", async () => {
    const withToken = (await (await fetch(`${startApiServer(registry, { token: "t" }).url}/openapi.json`)).json()) as any;
    expect(withToken.security).toEqual([{ bearer: [] }]);
    expect(withToken.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(withToken.paths["/healthz"].get.security).toEqual([]);
    expect(withToken.paths["/openapi.json"].get.security).toEqual([]);
    expect(withToken.paths["/v1/runs"].post.security).toBeUndefined();
    expect(withToken.paths["/v1/runs"].post.responses["401"]).toBeDefined();
    const without = (await (await fetch(`${startApiServer(registry).url}/openapi.json`)).json()) as any;
    expect(without.security).toBeUndefined();
  });
  test("a generation that failed is not kept: the next request generates the document again", async () => {
    const s = startApiServer(registry);
    // A schema whose field cannot be turned into JSON Schema the first time it is read (a transient failure of the generation).
    let failuresLeft = 1;
    const onceBroken = z.object({
      get ok() {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error("schema not loaded yet");
        }
        return z.boolean();
      },
    });
    s.app.post("/flaky", documented({ tag: "server", summary: "A route whose schema fails once", body: onceBroken }), (c) => c.json({}));
    const logged = spyOn(console, "error").mockImplementation(() => {});
    try {
      const failed = await fetch(`${s.url}/openapi.json`);
      expect(failed.status).toBe(500);
      expect(((await failed.json()) as any).error.code).toBe("internal");
      expect(logged).toHaveBeenCalledTimes(1);
    } finally {
      logged.mockRestore();
    }
    const retried = await fetch(`${s.url}/openapi.json`);
    expect(retried.status).toBe(200);
    const document = (await retried.json()) as any;
    expect(document.paths["/flaky"].post.summary).toBe("A route whose schema fails once");
    expect(failuresLeft).toBe(0);
  });

  test("concurrent first requests share one generation, and later ones reuse it", async () => {
    /** A server with a route whose body schema counts how often a generation reads it. */
    const countingServer = () => {
      const s = startApiServer(registry);
      const reads = { n: 0 };
      const counted = z.object({
        get ok() {
          reads.n++;
          return z.boolean();
        },
      });
      s.app.post("/counted", documented({ tag: "server", summary: "A route that counts how often its schema is read", body: counted }), (c) => c.json({}));
      return { s, reads };
    };
    const single = countingServer();
    expect((await fetch(`${single.s.url}/openapi.json`)).status).toBe(200);
    const perGeneration = single.reads.n;
    expect(perGeneration).toBeGreaterThan(0);

    const { s, reads } = countingServer();
    const answers = await Promise.all([1, 2, 3].map(() => fetch(`${s.url}/openapi.json`)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await fetch(`${s.url}/openapi.json`)).status).toBe(200);
    expect(reads.n).toBe(perGeneration);
  });
});

describe("GET /v1", () => {
  test("lists every route of the app, the same set the OpenAPI document holds, the schedule log among them", async () => {
    const s = startApiServer(registry);
    const response = await s.call("GET", "/v1");
    expect(response.status).toBe(200);
    const { routes, openapi } = (await response.json()) as { routes: string[]; openapi: string };
    expect(openapi).toBe("/openapi.json");
    expect(new Set(routes).size).toBe(routes.length);
    expect(routes).toContain("GET /v1/schedules/:name/log");
    for (const route of ["GET /healthz", "GET /openapi.json", "GET /metrics", "GET /v1", "POST /v1/runs", "GET /v1/runs/:id/tasks/:key/logs", "DELETE /v1/schedules/:name"]) expect(routes).toContain(route);

    const document = (await (await s.call("GET", "/openapi.json")).json()) as any;
    const documentedRoutes: string[] = [];
    for (const [path, item] of Object.entries<any>(document.paths)) for (const method of METHODS) if (item[method]) documentedRoutes.push(`${method.toUpperCase()} ${path}`);
    expect(routes.map((route) => openApiPath(route)).sort()).toEqual(documentedRoutes.sort());
  });

  test("every route it lists is one the server answers (never route_not_found)", async () => {
    const s = startApiServer(registry);
    const { routes } = (await (await s.call("GET", "/v1")).json()) as { routes: string[] };
    const unrouted: string[] = [];
    for (const route of routes) {
      const [method, path] = route.split(" ") as [string, string];
      const answer = await s.call(method, path.replace(/:([A-Za-z0-9_]+)/g, "nope"));
      const text = await answer.text(); // an unknown run, gate or schedule is a 404 of its own, and no stream
      if (answer.status === 404 && JSON.parse(text).error.code === "route_not_found") unrouted.push(route);
    }
    expect(unrouted).toEqual([]);
    expect(((await (await s.call("GET", "/v2")).json()) as any).error.code).toBe("route_not_found"); // the check can tell
  });
});

describe("Location on every 201", () => {
  test("every route documented with a 201 documents its Location header", async () => {
    const s = startApiServer(registry);
    const document = (await (await fetch(`${s.url}/openapi.json`)).json()) as any;
    const created: string[] = [];
    for (const [path, item] of Object.entries<any>(document.paths))
      for (const method of METHODS) {
        const response = item[method]?.responses?.["201"];
        if (!response) continue;
        created.push(`${method.toUpperCase()} ${path}`);
        expect(response.headers?.Location?.schema).toEqual({ type: "string" });
      }
    expect(created.sort()).toEqual(["POST /v1/events/{name}", "POST /v1/runs", "POST /v1/schedules", "POST /v1/schedules/{name}/run"]);
  });

  test("each 201 carries the path of what it created, and that path answers 200", async () => {
    const s = startApiServer(registry);
    const follow = async (response: Response) => {
      expect(response.status).toBe(201);
      const location = response.headers.get("location")!;
      expect(location).toMatch(/^\/v1\//);
      const body = (await response.json()) as any;
      const target = await s.call("GET", location);
      expect(target.status).toBe(200);
      return { location, body, target: (await target.json()) as any };
    };

    const run = await follow(await s.call("POST", "/v1/runs", { body: { workplan: PLAN } }));
    expect(run.location).toBe(`/v1/runs/${run.body.run.id}`);
    expect(run.target.run.id).toBe(run.body.run.id);

    const schedule = await follow(await s.call("POST", "/v1/schedules", { body: { name: "nightly.build", cron: "0 3 * * *", goal: "# Nightly\n\n## a: A\nrun: true\n" } }));
    expect(schedule.location).toBe("/v1/schedules/nightly.build");
    expect(schedule.target.schedule.name).toBe("nightly.build");

    const fired = await follow(await s.call("POST", "/v1/schedules/nightly.build/run"));
    expect(fired.location).toBe(`/v1/runs/${fired.body.runId}`);

    const event = await follow(await s.call("POST", "/v1/events/deploy%2Fdone", { body: { data: { sha: "abc" } } }));
    expect(event.location).toBe("/v1/events/deploy%2Fdone");
    expect(event.target.signal).toMatchObject({ name: "deploy/done", data: { sha: "abc" }, emittedBy: "api" });

    // The same event again is a 200 (the first write stands): nothing was created, no Location.
    const again = await s.call("POST", "/v1/events/deploy%2Fdone", { body: { data: { sha: "def" } } });
    expect(again.status).toBe(200);
    expect(again.headers.get("location")).toBeNull();
  });

  test("an event never emitted is a 404 naming it", async () => {
    const s = startApiServer(registry);
    const response = await s.call("GET", "/v1/events/never");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: "signal_not_found", message: 'signal "never" not found; emit it with POST /v1/events/:name' } });
  });
});
