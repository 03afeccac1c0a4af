/**
 * Errors at the HTTP edge, mapped in one place: every error becomes JSON
 * `{ error: { code, message, details? } }` with the status its code implies.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { FarcasterError, NotFoundError, type ErrorCode } from "../core/errors.ts";

export class HttpError extends FarcasterError {
  constructor(readonly status: ContentfulStatusCode, code: ErrorCode, message: string, details?: unknown) {
    super(code, message, { details });
  }
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  plan_invalid: 422,
  too_large: 413,
  too_deep: 422,
  goal_file_unreadable: 400,
  goal_file_outside_roots: 403,
  bad_input: 400,
  usage: 400,
  gate_not_pending: 409,
  conflict: 409,
  idempotency_key_reused: 422,
  invalid_transition: 409,
  lease_lost: 409,
  model_misconfigured: 500,
  store_busy: 503,
  store_unreachable: 503,
  store_closed: 503, // the server is shutting down
};

export function statusOf(error: FarcasterError): ContentfulStatusCode {
  if (error instanceof HttpError) return error.status;
  if (error.code.endsWith("_not_found")) return 404;
  return STATUS_BY_CODE[error.code] ?? 500;
}

/**
 * A client that went away mid-request (half a body, then the socket closed)
 * makes reading the body throw an AbortError. That is the client's business,
 * not a fault of the server: nothing is logged, and the answer goes nowhere.
 */
function clientWentAway(c: Context, error: unknown): boolean {
  return c.req.raw.signal?.aborted === true || (error instanceof DOMException && error.name === "AbortError");
}

/**
 * Where an API client finds what was not found: a route, not the CLI command
 * the store's message names. Entities not listed keep their message.
 */
function routeHint(error: NotFoundError): string | null {
  switch (error.entity) {
    case "run":
      return "list runs with GET /v1/runs";
    case "gate":
      return "list pending gates with GET /v1/gates";
    case "schedule":
      return "list schedules with GET /v1/schedules";
    case "task": {
      const slash = error.id.indexOf("/");
      return slash > 0 ? `list the run's tasks with GET /v1/runs/${error.id.slice(0, slash)}` : "list a run's tasks with GET /v1/runs/RUN";
    }
    default:
      return null;
  }
}

function messageOf(error: FarcasterError): string {
  if (!(error instanceof NotFoundError)) return error.message;
  const hint = routeHint(error);
  return hint === null ? error.message : `${error.entity} "${error.id}" not found; ${hint}`;
}

export function errorResponse(c: Context, error: unknown): Response {
  if (!(error instanceof FarcasterError) && clientWentAway(c, error)) {
    return c.json({ error: { code: "bad_request", message: "the client closed the connection before the request was read" } }, 400);
  }
  if (error instanceof FarcasterError) {
    const body: { code: string; message: string; details?: unknown } = { code: error.code, message: messageOf(error) };
    if (error.details !== undefined) body.details = error.details;
    return c.json({ error: body }, statusOf(error));
  }
  console.error("farcaster serve: unexpected error", error);
  return c.json({ error: { code: "internal", message: "internal error; see the server's log" } }, 500);
}
