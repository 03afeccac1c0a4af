/** Request bodies and queries checked with zod; failures are 400s that name each field. */
import type { Context } from "hono";
import type { z } from "zod";
import { formatPath } from "../core/workplan.ts";
import { HttpError } from "./errors.ts";

function invalid(where: string, error: z.ZodError): HttpError {
  const details = error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const summary = details.map((d) => `${d.path || where}: ${d.message}`).join("; ");
  return new HttpError(400, "bad_request", `invalid ${where}: ${summary}`, details);
}

export async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let data: unknown = {};
  const text = await c.req.text();
  if (text.trim() !== "") {
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, "bad_json", `request body is not valid JSON: ${(error as Error).message}`);
    }
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw invalid("body", parsed.error);
  return parsed.data;
}

export function query<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid("query", parsed.error);
  return parsed.data;
}
