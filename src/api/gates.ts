/** Routes for people and systems deciding: gates (approve, reject with a reason) and events. The CLI calls the same services. */
import type { Hono } from "hono";
import { z } from "zod";
import { actorText, reasonText, text } from "../core/text.ts";
import { NotFoundError } from "../core/errors.ts";
import { REJECT_ACTIONS } from "../core/states.ts";
import { approveGate, rejectGate } from "../services/gates.ts";
import { emitSignal } from "../services/signals.ts";
import type { ApiOptions } from "./options.ts";
import { created, segment } from "./created.ts";
import { documented } from "./openapi.ts";
import { body, query } from "./validate.ts";

const NEEDS_REASON = "a rejection needs a reason: the task and the people after you act on it";

const ListGates = z.object({ runId: text().optional(), all: z.enum(["true", "false"]).optional() }).strict();
const ApproveGate = z.object({ by: actorText().default("api") }).strict();
const EmitEvent = z.object({ data: z.unknown().optional(), by: actorText().default("api") }).strict();
const RejectGate = z
  .object({
    reason: reasonText({ error: NEEDS_REASON }).min(1, NEEDS_REASON),
    action: z.enum(REJECT_ACTIONS).default("fail"),
    by: actorText().default("api"),
  })
  .strict();

export function gateRoutes(v1: Hono, options: ApiOptions): void {
  const { store } = options;

  v1.get("/gates", documented({ tag: "gates", summary: "List gates (pending only unless all=true)", query: ListGates }), async (c) => {
    const q = query(c, ListGates);
    return c.json({ gates: await store.listGates({ runId: q.runId, pendingOnly: q.all !== "true" }) });
  });

  v1.get("/gates/:id", documented({ tag: "gates", summary: "A gate with its question and evidence" }), async (c) => c.json({ gate: await store.getGate(c.req.param("id")) }));

  v1.post("/gates/:id/approve", documented({ tag: "gates", summary: "Approve a pending gate", body: ApproveGate }), async (c) => {
    const { by } = await body(c, ApproveGate);
    return c.json({ gate: await approveGate(store, c.req.param("id"), by) });
  });

  /** Emits a named event (first write wins): 201 when recorded, 200 when it already was. */
  v1.post("/events/:name", documented({ tag: "events", summary: "Emit a named event (first write wins)", body: EmitEvent, responses: { 201: "the event was recorded", 200: "it already was: the first write stands" } }), async (c) => {
    const input = await body(c, EmitEvent);
    const result = await emitSignal(store, c.req.param("name"), input.data, input.by);
    return result.created ? created(c, `/v1/events/${segment(result.signal.name)}`, result) : c.json(result, 200);
  });

  v1.get("/events/:name", documented({ tag: "events", summary: "A named event as it was first emitted" }), async (c) => {
    const name = c.req.param("name");
    const signal = await store.getSignal(name);
    if (!signal) throw new NotFoundError("signal", name, "emit it with POST /v1/events/:name");
    return c.json({ signal });
  });

  v1.post("/gates/:id/reject", documented({ tag: "gates", summary: "Reject a pending gate with a reason (action retry: the task retries with it as feedback)", body: RejectGate }), async (c) => {
    const input = await body(c, RejectGate);
    return c.json({ gate: await rejectGate(store, c.req.param("id"), input) });
  });
}
