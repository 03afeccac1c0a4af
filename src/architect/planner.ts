/**
 * One planning call to the model: send the conversation, get back a workplan
 * candidate and what is wrong with it. No loop here: the caller journals each
 * call as a durable step and decides whether to ask for a repair (appending
 * the model's answer and `repairPrompt(issues)` to `messages`).
 *
 * A bad answer is data, not an error: invalid JSON, a schema violation or a
 * cycle all come back as `issues` with paths. Only a failed call (HTTP error
 * after the SDK's retries, connection refused) throws, as "model_call_failed".
 */
import { APICallError, generateText, jsonSchema, NoObjectGeneratedError, Output, RetryError, type LanguageModel } from "ai";
import { z } from "zod";
import { FarcasterError, type PlanIssue } from "../core/errors.ts";
import { validateWorkplan, WorkplanSchema } from "../core/workplan.ts";

export interface PlanMessage {
  role: "user" | "assistant";
  content: string;
}

export interface PlanRequest {
  model: LanguageModel;
  /** The planner system prompt (see prompt.ts). */
  system: string;
  messages: readonly PlanMessage[];
  signal?: AbortSignal;
  /** Retries of a failed HTTP call (429, 5xx, connection errors), by the SDK. Default 2. */
  maxRetries?: number;
}

export interface PlanResponse {
  /** The JSON the model answered (not yet valid), or null when it held none. */
  candidate: unknown | null;
  /** The model's raw text, to append as the assistant turn of a repair. */
  text: string;
  /** Empty when the candidate is a valid workplan. */
  issues: PlanIssue[];
  usage: { inputTokens: number; outputTokens: number };
  finishReason: string;
}

export class ModelCallError extends FarcasterError {
  constructor(message: string, cause: unknown) {
    super("model_call_failed", message, { cause });
  }
}

/**
 * The JSON Schema sent as the response format. Derived from WorkplanSchema so
 * it cannot drift; `default`s are dropped (meaningless to a generator, and
 * some servers reject them). It is passed with no validator: the SDK then only
 * parses JSON, and validateWorkplan reports problems with better paths.
 */
const WORKPLAN_JSON_SCHEMA = (() => {
  try {
    const { $schema: _ignored, ...schema } = z.toJSONSchema(WorkplanSchema, { io: "input", target: "draft-7" }) as Record<string, unknown>;
    return JSON.parse(JSON.stringify(schema), (key, value) => (key === "default" ? undefined : value)) as Record<string, unknown>;
  } catch {
    return { type: "object" };
  }
})();

const workplanOutput = Output.object({
  schema: jsonSchema<unknown>(WORKPLAN_JSON_SCHEMA),
  name: "workplan",
  description: "A Farcaster workplan: a DAG of tasks",
});

export async function requestPlan(request: PlanRequest): Promise<PlanResponse> {
  let text: string;
  let parsed: { value: unknown } | null = null;
  let usage: PlanResponse["usage"];
  let finishReason: string;
  try {
    const result = await generateText({
      model: request.model,
      system: request.system,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      output: workplanOutput,
      // Not strict: OpenAI's strict mode wants every property required and no
      // open objects, but optional fields and a free-form `input` are the point.
      providerOptions: { openai: { strictJsonSchema: false } },
      maxRetries: request.maxRetries ?? 2,
      abortSignal: request.signal,
    });
    text = result.text;
    usage = countUsage(result.usage);
    finishReason = result.finishReason;
    try {
      parsed = { value: result.output };
    } catch {
      // No output at all (empty answer, tool calls): the text decides below.
    }
  } catch (error) {
    // The answer came back but was not bare JSON (prose, a fence, truncated):
    // not a failed call, so look for the JSON ourselves.
    if (!NoObjectGeneratedError.isInstance(error)) throw callError(error, request);
    text = error.text ?? "";
    usage = countUsage(error.usage);
    finishReason = error.finishReason ?? "unknown";
  }
  if (parsed === null) parsed = extractJson(text);
  if (parsed === null || parsed.value === undefined) {
    const why = finishReason === "length" ? " (it was cut off at the output token limit)" : "";
    return {
      candidate: null,
      text,
      issues: [{ path: "", message: `the answer held no JSON workplan${why}; answer with one JSON object { "version": 1, "goal": ..., "tasks": [...] } and nothing else` }],
      usage,
      finishReason,
    };
  }
  const candidate = parsed.value;
  const validation = validateWorkplan(candidate);
  return { candidate, text, issues: validation.ok ? [] : validation.issues, usage, finishReason };
}

function countUsage(usage: { inputTokens?: number | undefined; outputTokens?: number | undefined } | undefined): PlanResponse["usage"] {
  return { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 };
}

/**
 * The JSON in an answer that is not bare JSON: a ```json fence first (models
 * that ignore the response format love them), else the first balanced {...}.
 */
export function extractJson(text: string): { value: unknown } | null {
  const fences = text.matchAll(/```(?:json|JSON)?[ \t]*\r?\n([\s\S]*?)```/g);
  for (const fence of fences) {
    const value = tryParse(fence[1]!);
    if (value) return value;
  }
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    const end = matchingBrace(text, start);
    if (end === -1) return null; // unbalanced from here on: truncated answer
    const value = tryParse(text.slice(start, end + 1));
    if (value) return value;
  }
  return null;
}

function tryParse(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return null;
  }
}

/** Index of the brace closing the one at `start`, skipping braces inside strings; -1 if none. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

function callError(error: unknown, request: PlanRequest): unknown {
  // The caller's cancellation is not a model failure: let it through as is.
  if (request.signal?.aborted) return error;
  const model = request.model;
  const modelName = typeof model === "string" ? model : model.modelId;
  const last = RetryError.isInstance(error) ? error.lastError : error;
  // The SDK's error carries the URL it called; the base URL is that minus the endpoint.
  const url = APICallError.isInstance(last) ? last.url : undefined;
  const baseURL = url ? url.replace(/\/(chat\/completions|responses)$/, "") : "its endpoint";
  const status = APICallError.isInstance(last) && last.statusCode ? `HTTP ${last.statusCode}: ` : "";
  const tries = RetryError.isInstance(error) ? ` after ${error.errors.length} attempts` : "";
  const detail = last instanceof Error ? last.message : String(last);
  const hint = status.startsWith("HTTP 401") || status.startsWith("HTTP 403") ? "check OPENAI_API_KEY" : "check OPENAI_BASE_URL, FARCASTER_MODEL and that the server is running";
  return new ModelCallError(`model call to ${modelName} at ${baseURL} failed${tries}: ${status}${detail}; ${hint}`, error);
}
