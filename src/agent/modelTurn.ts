/**
 * One model turn of an agent: the conversation so far in, the model's answer
 * (text and tool calls) out. Tools are declared without `execute`, so the SDK
 * never runs them: the workflow journals and runs each call itself, under the
 * task's scope. A drone-wide limit keeps a wide wave from flooding the
 * provider; 429s are retried by the SDK, honouring Retry-After.
 */
import { generateText, tool, type LanguageModel, type ModelMessage } from "ai";
import { TOOL_DEFINITIONS, TOOL_NAMES } from "./tools.ts";

export interface TurnResult {
  text: string;
  toolCalls: { toolCallId: string; toolName: string; input: unknown }[];
  usage: { inputTokens: number; outputTokens: number };
  finishReason: string;
  /** The assistant message(s) to append to the conversation. */
  messages: ModelMessage[];
}

const AGENT_TOOLS = Object.fromEntries(
  TOOL_NAMES.map((name) => [name, tool({ description: TOOL_DEFINITIONS[name].description, inputSchema: TOOL_DEFINITIONS[name].inputSchema as never })]),
);

/** At most this many model calls at once in this process (FARCASTER_MODEL_CONCURRENCY, default 4). */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export const modelSlots = new Slots(Math.max(1, Number(process.env.FARCASTER_MODEL_CONCURRENCY) || 4));

export async function modelTurn(options: { model: LanguageModel; system: string; messages: ModelMessage[]; signal: AbortSignal; maxRetries?: number }): Promise<TurnResult> {
  const result = await modelSlots.run(() =>
    generateText({
      model: options.model,
      system: options.system,
      messages: options.messages,
      tools: AGENT_TOOLS,
      abortSignal: options.signal,
      maxRetries: options.maxRetries ?? 4,
    }),
  );
  return {
    text: result.text,
    toolCalls: result.toolCalls.map((call) => ({ toolCallId: call.toolCallId, toolName: call.toolName, input: call.input })),
    usage: { inputTokens: result.usage.inputTokens ?? 0, outputTokens: result.usage.outputTokens ?? 0 },
    finishReason: result.finishReason,
    messages: result.response.messages as ModelMessage[],
  };
}
