/**
 * The HTTP API: a Hono app whose routes call the same services as the CLI.
 * Every body and query is validated with zod; errors are JSON with the status
 * their code implies (errors.ts); a bearer token guards everything (/v1 and
 * /metrics) but /healthz and /openapi.json whenever one is configured. The OpenAPI document
 * is public like /healthz: it describes the routes, holds no data, and a
 * client generator must be able to read it before it has a token.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { bearerAuth } from "./auth.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { gateRoutes } from "./gates.ts";
import { logRoutes } from "./logs.ts";
import { metricsRoute } from "./metrics.ts";
import { documented, openApiRoute } from "./openapi.ts";
import type { ApiOptions } from "./options.ts";
import { routeList } from "./routeList.ts";
import { runRoutes } from "./runs.ts";
import { scheduleRoutes } from "./schedules.ts";

export type { ApiOptions } from "./options.ts";
export { DEFAULT_BODY_LIMIT, VERSION } from "./options.ts";
import { DEFAULT_BODY_LIMIT, VERSION } from "./options.ts";

export function createApp(options: ApiOptions): Hono {
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => errorResponse(c, new HttpError(404, "route_not_found", `no route ${c.req.method} ${c.req.path}; see GET /v1 for the routes`)));

  app.get("/healthz", documented({ tag: "server", summary: "Liveness and version", public: true }), (c) => c.json({ ok: true, version: VERSION }));
  app.get("/openapi.json", documented({ tag: "server", summary: "This document (OpenAPI 3.1)", public: true }), openApiRoute(app, { token: Boolean(options.token) }));

  metricsRoute(app, options);

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
  v1.get("/", documented({ tag: "server", summary: "The routes of the API, one line each (details: GET /openapi.json)" }), (c) =>
    c.json({ routes: routeList(app), openapi: "/openapi.json" }),
  );
  runRoutes(v1, options);
  logRoutes(v1, options);
  gateRoutes(v1, options);
  scheduleRoutes(v1, options);
  app.route("/v1", v1);
  return app;
}
