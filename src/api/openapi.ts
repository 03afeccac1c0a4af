/**
 * The OpenAPI 3.1 document, generated from the routes themselves: each route
 * carries a `documented(...)` middleware (hono-openapi's describeRoute) that
 * names the SAME zod schemas its handler validates with, and GET
 * /openapi.json walks the app's routes (Hono's app.routes) to build the
 * document. A route without the middleware is missing from the document, and
 * test/api-openapi.test.ts fails on it.
 *
 * Request bodies and query parameters are described as the client sends
 * them (zod's "input" side: a field with a default is optional).
 */
import type { Hono, MiddlewareHandler } from "hono";
import { describeRoute, generateSpecs, resolver, type DescribeRouteOptions } from "hono-openapi";
import { z } from "zod";
import { VERSION } from "./options.ts";

export type RouteTag = "runs" | "gates" | "events" | "schedules" | "server";

export interface RouteDoc {
  summary: string;
  description?: string;
  tag: RouteTag;
  /** The JSON body the handler validates (with validate.ts `body`). */
  body?: z.ZodType;
  /** The query the handler validates (with validate.ts `query`). */
  query?: z.ZodType;
  /** Success statuses and what each means; a 201 documents its Location header. Default: 200 "OK". */
  responses?: Partial<Record<200 | 201, string>>;
  /** Error statuses of this route beyond the common ones, and what each means. */
  errors?: Partial<Record<404 | 409 | 422, string>>;
  /** The route answers with text/event-stream (always, or when asked: `sse: "optional"`). */
  sse?: true | "optional";
  /** The media type of a non-JSON answer (e.g. the Prometheus text format). */
  produces?: string;
  /** Reachable without the bearer token even when the server has one. */
  public?: true;
}

/** The error body every 4xx/5xx answers with (errors.ts). */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe("a stable code from ERROR_CODES"),
    message: z.string().describe("what went wrong and how to fix it"),
    details: z.unknown().optional(),
  }),
});

/** The document as hono-openapi builds it (its types are openapi-types', not a dependency of ours). */
export type OpenApiDocument = Awaited<ReturnType<typeof generateSpecs>>;
type Parameter = Exclude<NonNullable<DescribeRouteOptions["parameters"]>[number], { $ref: string }>;
type Responses = NonNullable<DescribeRouteOptions["responses"]>;
type JsonSchema = Parameter["schema"];

const ERROR_REF = { $ref: "#/components/schemas/Error" } as const;
const errorResponse = (description: string): Responses[string] => ({ description, content: { "application/json": { schema: ERROR_REF } } });

function queryParameters(schema: z.ZodType): Parameter[] {
  const json = z.toJSONSchema(schema, { io: "input" }) as { properties?: Record<string, JsonSchema & { description?: string }>; required?: string[] };
  // A whole-number field (validate.ts wholeNumber) defaults to its digits; documented as the integer it stands for.
  for (const property of Object.values(json.properties ?? {}) as { type?: string; default?: unknown }[]) {
    if (property.type === "integer" && typeof property.default === "string") property.default = Number(property.default);
  }
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    ...(property.description ? { description: property.description } : {}),
    schema: property,
  }));
}

function successResponses(doc: RouteDoc): Responses {
  const responses: Responses = {};
  const statuses = doc.responses ?? { 200: "OK" };
  for (const [status, description] of Object.entries(statuses)) {
    const content: Record<string, object> =
      doc.sse === true ? { "text/event-stream": {} } : doc.produces ? { [doc.produces]: {} } : { "application/json": {} };
    if (doc.sse === "optional") content["text/event-stream"] = {};
    responses[status] = {
      description: description!,
      content,
      ...(status === "201" ? { headers: { Location: { description: "the path of what was created", schema: { type: "string" } } } } : {}),
    };
  }
  return responses;
}

/** The middleware that documents a route; put it first among the route's handlers. */
export function documented(doc: RouteDoc): MiddlewareHandler {
  const spec: DescribeRouteOptions = {
    summary: doc.summary,
    tags: [doc.tag],
    responses: {
      ...successResponses(doc),
      ...(doc.body || doc.query ? { 400: errorResponse("the body or query is invalid (each field named)") } : {}),
      ...(doc.public ? {} : { 401: errorResponse("the bearer token is missing or wrong (only when the server has one)") }),
      ...Object.fromEntries(Object.entries(doc.errors ?? {}).map(([status, description]) => [status, errorResponse(description!)])),
      default: errorResponse("an error: 404 for what does not exist, 409 for a conflict, 413 for a body too large"),
    },
  };
  if (doc.description) spec.description = doc.description;
  if (doc.public) spec.security = [];
  if (doc.query) spec.parameters = queryParameters(doc.query);
  if (doc.body) spec.requestBody = { required: true, content: { "application/json": { schema: resolver(doc.body, { io: "input" }) } } };
  return describeRoute(spec);
}

/** The document for this app; `token` says whether the server asks for a bearer token. */
export function openApiDocument(app: Hono, options: { token: boolean }): Promise<OpenApiDocument> {
  return generateSpecs(app, {
    // "/openapi.json" looks like a static file to hono-openapi; it is a route like the others.
    excludeStaticFile: false,
    documentation: {
      info: {
        title: "Farcaster",
        version: VERSION,
        description: "Durable coordination for swarms of AI workers: runs, gates, events, schedules, logs and metrics.",
      },
      ...(options.token ? { security: [{ bearer: [] }] } : {}),
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "FARCASTER_TOKEN, needed whenever the server has one" } },
        schemas: { Error: z.toJSONSchema(ErrorBody) as Exclude<NonNullable<JsonSchema>, { $ref: string }> },
      },
    },
  });
}

/**
 * GET /openapi.json: generated on the first request and kept (the routes do
 * not change after start). Only a success is kept: a generation that failed
 * is forgotten, so the next request tries again rather than answering the
 * same error until a restart. Concurrent first requests share one generation.
 */
export function openApiRoute(app: Hono, options: { token: boolean }): MiddlewareHandler {
  let document: Promise<OpenApiDocument> | undefined;
  return async (c) => {
    const generating = (document ??= openApiDocument(app, options));
    try {
      return c.json(await generating);
    } catch (error) {
      if (document === generating) document = undefined;
      throw error;
    }
  };
}
