/**
 * The HTTP API: a Hono app whose routes call the same services as the CLI.
 * Every body and query is validated with zod; errors are JSON with the status
 * their code implies (errors.ts); a bearer token guards everything but
 * /healthz whenever one is configured.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { bearerAuth } from "./auth.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { gateRoutes } from "./gates.ts";
import type { ApiOptions } from "./options.ts";
import { runRoutes } from "./runs.ts";
import { scheduleRoutes } from "./schedules.ts";

export type { ApiOptions } from "./options.ts";
export { DEFAULT_BODY_LIMIT, VERSION } from "./options.ts";
import { DEFAULT_BODY_LIMIT, VERSION } from "./options.ts";

export function createApp(options: ApiOptions): Hono {
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => errorResponse(c, new HttpError(404, "route_not_found", `no route ${c.req.method} ${c.req.path}; see GET /v1 for the routes`)));

  app.get("/healthz", (c) => c.json({ ok: true, version: VERSION }));

  const v1 = new Hono();
  if (options.token) v1.use("*", bearerAuth(options.token));
  v1.use(
    "*",
    bodyLimit({
      maxSize: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
      onError: () => {
        throw new HttpError(413, "body_too_large", `request body is larger than ${options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT} bytes`);
      },
    }),
  );
  v1.get("/", (c) =>
    c.json({
      routes: [
        "POST /v1/runs", "GET /v1/runs", "GET /v1/runs/:id", "POST /v1/runs/:id/cancel", "POST /v1/runs/:id/resume", "GET /v1/runs/:id/events (SSE)",
        "GET /v1/runs/:id/tasks/:key/journal", "GET /v1/gates", "POST /v1/gates/:id/approve", "POST /v1/gates/:id/reject", "POST /v1/events/:name",
        "GET /v1/schedules", "POST /v1/schedules", "GET /v1/schedules/:name", "POST /v1/schedules/:name/pause",
        "POST /v1/schedules/:name/resume", "POST /v1/schedules/:name/run", "DELETE /v1/schedules/:name",
      ],
    }),
  );
  runRoutes(v1, options);
  gateRoutes(v1, options);
  scheduleRoutes(v1, options);
  app.route("/v1", v1);
  return app;
}
