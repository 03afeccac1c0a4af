/** A 201 answer: the body, and a Location header with the path of what was created (every 201 has one). */
import type { Context } from "hono";

export function created(c: Context, location: string, body: object): Response {
  c.header("Location", location);
  return c.json(body, 201);
}

/** One path segment of a Location: names (schedules, events) may hold any character. */
export const segment = (value: string) => encodeURIComponent(value);
