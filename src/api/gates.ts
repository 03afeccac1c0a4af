/** Routes for people and systems deciding: gates (approve, reject with a reason) and events. The CLI calls the same services. */
import type { Hono } from "hono";
import { z } from "zod";
import { REJECT_ACTIONS } from "../core/states.ts";
import { approveGate, rejectGate } from "../services/gates.ts";
import { emitSignal } from "../services/signals.ts";
import type { ApiOptions } from "./options.ts";
import { body, query } from "./validate.ts";

const NEEDS_REASON = "a rejection needs a reason: the task and the people after you act on it";

export function gateRoutes(v1: Hono, options: ApiOptions): void {
  const { store } = options;

  v1.get("/gates", async (c) => {
    const q = query(c, z.object({ runId: z.string().optional(), all: z.enum(["true", "false"]).optional() }));
    return c.json({ gates: await store.listGates({ runId: q.runId, pendingOnly: q.all !== "true" }) });
  });

  v1.get("/gates/:id", async (c) => c.json({ gate: await store.getGate(c.req.param("id")) }));

  v1.post("/gates/:id/approve", async (c) => {
    const { by } = await body(c, z.object({ by: z.string().min(1).default("api") }).strict());
    return c.json({ gate: await approveGate(store, c.req.param("id"), by) });
  });

  /** Emits a named event (first write wins): 201 when recorded, 200 when it already was. */
  v1.post("/events/:name", async (c) => {
    const input = await body(c, z.object({ data: z.unknown().optional(), by: z.string().min(1).default("api") }).strict());
    const result = await emitSignal(store, c.req.param("name"), input.data, input.by);
    return c.json(result, result.created ? 201 : 200);
  });

  v1.post("/gates/:id/reject", async (c) => {
    const input = await body(
      c,
      z
        .object({
          reason: z.string({ error: NEEDS_REASON }).trim().min(1, NEEDS_REASON),
          action: z.enum(REJECT_ACTIONS).default("fail"),
          by: z.string().min(1).default("api"),
        })
        .strict(),
    );
    return c.json({ gate: await rejectGate(store, c.req.param("id"), input) });
  });
}
