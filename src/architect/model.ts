/**
 * Which language model the Architect talks to, read from the environment:
 *
 *   OPENAI_API_KEY   the key (optional for local OpenAI-compatible servers)
 *   OPENAI_BASE_URL  an OpenAI-compatible server (Ollama, vLLM, LM Studio,
 *                    llama.cpp, a proxy); when set, the chat-completions API
 *                    is used, because that is the one those servers implement
 *   FARCASTER_MODEL  the model name (default DEFAULT_MODEL)
 *
 * Without a key and without a base URL there is no model: the caller plans
 * from the goal file alone (or says how to configure one).
 *
 * The environment is passed in (default process.env), and the provider is
 * built with createOpenAI rather than the `openai` singleton: the singleton
 * reads OPENAI_BASE_URL from process.env by itself, which would make tests
 * and callers that pass their own env see a different endpoint.
 *
 * The provider package is imported when the model is first asked for
 * (ModelConfig.load), not with this module: the commands that only check
 * whether a model is configured (run, plan, doctor, schedule) would
 * otherwise load the AI SDK on every call, most of a CLI call's start-up.
 */
import type { LanguageModel } from "ai";
import { FarcasterError } from "../core/errors.ts";

/**
 * The default model when only OPENAI_API_KEY is set: cheap and fast, and
 * good enough at emitting a small JSON DAG; override with FARCASTER_MODEL.
 */
export const DEFAULT_MODEL = "gpt-4.1-mini";

/**
 * Local servers usually ignore the key, but the SDK refuses to build a
 * request without one (it would read OPENAI_API_KEY and throw), so we send a
 * placeholder that is obviously not a secret.
 */
const PLACEHOLDER_KEY = "farcaster-no-key";

export interface ModelConfig {
  /** The model, built on first call (imports the provider package). */
  load(): Promise<LanguageModel>;
  modelName: string;
  /** The OpenAI-compatible endpoint, or null for api.openai.com. */
  baseURL: string | null;
  /** "chat": /chat/completions (compatible servers); "responses": OpenAI's Responses API. */
  api: "chat" | "responses";
}

/** A model variable holds a value that cannot work; the message names it and the fix. */
export class ModelConfigError extends FarcasterError {
  constructor(variable: string, message: string) {
    super("model_misconfigured", `${variable}: ${message}`, { details: { variable } });
  }
}

type Env = Record<string, string | undefined>;

/** A variable's value, trimmed; unset and blank are the same (shells often export empty values). */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function resolveModelConfig(env: Env = process.env): ModelConfig | null {
  const apiKey = read(env, "OPENAI_API_KEY");
  const rawBaseURL = read(env, "OPENAI_BASE_URL");
  if (!apiKey && !rawBaseURL) return null;

  const modelName = read(env, "FARCASTER_MODEL") ?? DEFAULT_MODEL;
  if (/\s/.test(modelName)) {
    throw new ModelConfigError("FARCASTER_MODEL", `"${modelName}" is not a model name (it contains whitespace); set it to a name such as ${DEFAULT_MODEL} or llama3.1`);
  }

  if (rawBaseURL === undefined) {
    // provider(name) is the Responses API, OpenAI's recommended endpoint.
    return { load: lazyModel((sdk) => sdk.createOpenAI({ apiKey })(modelName)), modelName, baseURL: null, api: "responses" };
  }

  const baseURL = checkBaseURL(rawBaseURL);
  return { load: lazyModel((sdk) => sdk.createOpenAI({ baseURL, apiKey: apiKey ?? PLACEHOLDER_KEY }).chat(modelName)), modelName, baseURL, api: "chat" };
}

/** The model `make` builds from the provider package, imported and built on the first call only. */
function lazyModel(make: (sdk: typeof import("@ai-sdk/openai")) => LanguageModel): () => Promise<LanguageModel> {
  let made: Promise<LanguageModel> | undefined;
  return () => (made ??= import("@ai-sdk/openai").then(make));
}

/** Accepts http(s) URLs only, without a trailing slash (the SDK appends "/chat/completions"). */
function checkBaseURL(raw: string): string {
  const example = "for example http://localhost:11434/v1 for Ollama or http://localhost:8000/v1 for vLLM";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ModelConfigError("OPENAI_BASE_URL", `"${raw}" is not a valid URL; set it to the server's OpenAI-compatible base URL, ${example}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ModelConfigError("OPENAI_BASE_URL", `"${raw}" must be an http:// or https:// URL (got ${url.protocol}); ${example}`);
  }
  if (url.search || url.hash) {
    throw new ModelConfigError("OPENAI_BASE_URL", `"${raw}" must not carry a query or fragment; the API path is appended to it, ${example}`);
  }
  return url.href.replace(/\/+$/, "");
}
