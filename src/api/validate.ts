/** Request bodies and queries checked with zod; failures are 400s that name each field. */
import type { Context } from "hono";
import { z } from "zod";
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

/**
 * A whole number in a query or a header, written in digits: what JSON
 * clients and curl send. Number() alone would also take "1e3", "0x10", " 5"
 * and "" (as 0), which are mistakes to name, not ids to guess.
 */
const DIGITS = /^\d{1,15}$/;
const DIGITS_PROBLEM = "must be a whole number written in digits (0, 1, 2, ...)";

/** A query field: digits, from `min` (default 0) to `max`, `fallback` when absent; documented (OpenAPI) as the integer it stands for. */
export function wholeNumber(options: { min?: number; max?: number; fallback: number }) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, fallback } = options;
  return z
    .string()
    .regex(DIGITS, DIGITS_PROBLEM)
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .prefault(String(fallback)) // as sent: the default goes through the same parse
    .meta({ type: "integer", minimum: min, ...(max === Number.MAX_SAFE_INTEGER ? {} : { maximum: max }), pattern: undefined });
}

/** An id to resume after (an SSE stream's Last-Event-ID, or `?after`): digits, or a 400 naming where it came from. */
export function cursor(value: string | undefined, where: string): number {
  if (value === undefined) return 0;
  if (!DIGITS.test(value)) throw new HttpError(400, "bad_request", `${where} ${DIGITS_PROBLEM} (got "${value}")`);
  return Number(value);
}

/** A parameter given twice is a mistake in the client (which one did it mean?), not a choice for us to make. */
export function refuseRepeated(queries: Record<string, string[]>): void {
  const repeated = Object.entries(queries).filter(([, values]) => values.length > 1);
  if (repeated.length === 0) return;
  const details = repeated.map(([name, values]) => ({ path: name, message: `given ${values.length} times; give it once` }));
  throw new HttpError(400, "bad_request", `invalid query: ${details.map((d) => `${d.path}: ${d.message}`).join("; ")}`, details);
}

export function query<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  refuseRepeated(c.req.queries());
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid("query", parsed.error);
  return parsed.data;
}
