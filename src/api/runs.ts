/** Routes for runs: create (goal text, goal file or workplan; idempotent), list, get, cancel, journal, event stream. */
import type { Hono } from "hono";
import { resolve } from "node:path";
import { z } from "zod";
import { refuseOtherRequest, requestHash } from "../core/idempotency.ts";
import { actorText, reasonText, text } from "../core/text.ts";
import { TERMINAL_RUN_STATES } from "../core/states.ts";
import { prepareGoal, prepareGoalText, prepareWorkplan, startGoalRun } from "../services/goals.ts";
import type { ApiOptions } from "./options.ts";
import { created } from "./created.ts";
import { HttpError } from "./errors.ts";
import { documented } from "./openapi.ts";
import { sse, SSE_KEEP_ALIVE_MS } from "./sse.ts";
import { TaskKeys } from "./taskKeys.ts";
import { body, cursor, query, refuseRepeated, wholeNumber } from "./validate.ts";

const CreateRun = z
  .object({
    goal: text().optional().describe("the goal as text (Markdown; may carry a plan)"),
    goalFile: text().optional().describe("path of a goal file on the server"),
    workplan: z.unknown().optional().describe("a workplan object"),
    review: z.boolean().default(false).describe("hold the plan at a gate until approved"),
  })
  .strict()
  .refine((b) => [b.goal, b.goalFile, b.workplan].filter((v) => v !== undefined).length === 1, {
    message: "give exactly one of goal, goalFile or workplan",
  });

const ListRuns = z.object({
  limit: wholeNumber({ min: 1, max: 500, fallback: 50 }),
  unfinished: z.enum(["true", "false"]).optional(),
}).strict();

const CancelRun = z.object({ reason: reasonText().optional(), by: actorText().optional() }).strict();
const ResumeRun = z.object({ by: actorText().optional() }).strict();

export function runRoutes(v1: Hono, options: ApiOptions): void {
  const { store, registry } = options;
  const cwd = options.cwd ?? process.cwd();
  const roots = options.goalRoots ?? [cwd];

  v1.post("/runs", documented({ tag: "runs", summary: "Create a run from a goal text, a goal file or a workplan (Idempotency-Key header: the same key with the same body returns the same run)", body: CreateRun, responses: { 201: "the run was created", 200: "a run with this Idempotency-Key and body exists" }, errors: { 422: "the plan is invalid (plan_invalid), or this Idempotency-Key was sent before with another request (idempotency_key_reused)" } }), async (c) => {
    const input = await body(c, CreateRun);
    const idempotencyKey = c.req.header("idempotency-key")?.trim() || undefined;
    if (idempotencyKey && idempotencyKey.length > 200) throw new HttpError(400, "bad_request", "Idempotency-Key is longer than 200 characters");
    // What the key stands for: the request's data, whatever its key order or spacing.
    const hash = idempotencyKey ? requestHash(input) : undefined;
    if (idempotencyKey) {
      const [existing] = await store.listRuns({ idempotencyKey, limit: 1 });
      if (existing) {
        refuseOtherRequest(existing, hash);
        return c.json({ run: existing, created: false }, 200);
      }
    }
    const prepared =
      input.goal !== undefined
        ? prepareGoalText(input.goal, "goal", registry)
        : input.goalFile !== undefined
          ? await prepareGoal(resolve(cwd, input.goalFile), registry, { roots })
          : prepareWorkplan(input.workplan, registry);
    const source = input.goalFile !== undefined ? prepared.file.path : "api";
    // The store decides, in the write that inserts: of concurrent requests with one key exactly one creates (201).
    const { run, created: isNew } = await startGoalRun(store, prepared, { review: input.review, forceNew: true, source, cwd, actor: "api", idempotencyKey, requestHash: hash });
    return isNew ? created(c, `/v1/runs/${run.id}`, { run, created: true }) : c.json({ run, created: false }, 200);
  });

  v1.get("/runs", documented({ tag: "runs", summary: "List runs, newest first", query: ListRuns }), async (c) => {
    const q = query(c, ListRuns);
    return c.json({ runs: await store.listRuns({ limit: q.limit, unfinished: q.unfinished === "true" }) });
  });

  v1.get("/runs/:id", documented({ tag: "runs", summary: "A run and its tasks" }), async (c) => {
    const id = c.req.param("id");
    const run = await store.getRun(id);
    return c.json({ run, tasks: await store.listTasks(id) });
  });

  v1.post("/runs/:id/cancel", documented({ tag: "runs", summary: "Cancel a run: its open tasks are cancelled, its pending gates closed", body: CancelRun }), async (c) => {
    const { reason, by } = await body(c, CancelRun);
    return c.json({ run: await store.cancelRun(c.req.param("id"), { actor: by ?? "api", reason }) });
  });

  /** Reopens a failed or cancelled run (drones carry on after the last successful steps); an unfinished one is returned as it is. */
  v1.post("/runs/:id/resume", documented({ tag: "runs", summary: "Reopen a failed or cancelled run", body: ResumeRun }), async (c) => {
    const { by } = await body(c, ResumeRun);
    return c.json(await store.resumeRun(c.req.param("id"), { actor: by ?? "api" }));
  });

  v1.get("/runs/:id/tasks/:key/journal", documented({ tag: "runs", summary: "A task's attempts and journaled steps" }), async (c) => {
    const task = await store.findTask(c.req.param("id"), c.req.param("key"));
    const [attempts, steps] = await Promise.all([store.listAttempts(task.id), store.listSteps(task.id)]);
    return c.json({ task, attempts, steps });
  });

  /**
   * The run's event log as Server-Sent Events, from the start or after
   * Last-Event-ID (event ids only grow, so a reconnecting client misses
   * nothing). The stream ends with an `end` event once the run has ended.
   * Each event carries its task's key (`taskKey`) besides its numeric id.
   */
  v1.get("/runs/:id/events", documented({ tag: "runs", summary: "The run's events as Server-Sent Events (Last-Event-ID resumes); ends with an `end` event", sse: true }), async (c) => {
    const runId = c.req.param("id");
    const header = c.req.header("last-event-id");
    refuseRepeated({ after: c.req.queries("after") ?? [] });
    const after = header !== undefined ? cursor(header, "Last-Event-ID (an event id)") : cursor(c.req.query("after"), "after (an event id)");
    await store.getRun(runId); // 404 before the stream starts
    const keys = new TaskKeys(store, runId);
    return sse(c, options.sseKeepAliveMs ?? SSE_KEEP_ALIVE_MS, async (stream, signal) => {
      let ended = false;
      const until = async () => (ended = TERMINAL_RUN_STATES.has((await store.getRun(runId)).state));
      for await (const event of store.followEvents({ runId, after, signal, until })) {
        await stream.writeSSE({ id: String(event.id), event: event.type, data: JSON.stringify({ ...event, taskKey: await keys.of(event.taskId) }) });
      }
      if (ended) await stream.writeSSE({ event: "end", data: JSON.stringify({ run: await store.getRun(runId) }) });
    }, `the event stream of run ${runId}`);
  });
}
