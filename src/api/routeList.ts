/**
 * GET /v1's answer: the routes of the whole app, read from Hono's own route
 * table at request time, so a route added anywhere is listed without anyone
 * editing a list (a hand-kept one had already lost a route).
 */
import type { Hono } from "hono";

/** `METHOD /path` for every route a client can call, in the order they were mounted, each once. */
export function routeList(app: Hono): string[] {
  // A route with middleware has one entry per handler; middleware mounted with use() is ALL /v1/* and not a route.
  const lines = app.routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${route.path}`);
  return [...new Set(lines)];
}
