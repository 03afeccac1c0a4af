import { afterEach, describe, expect, test } from "bun:test";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "zod";
import { FarcasterError } from "../src/core/errors.ts";
import { DEFAULT_MODEL, resolveModelConfig } from "../src/architect/model.ts";
import { requestPlan, type PlanMessage } from "../src/architect/planner.ts";
import { plannerSystemPrompt, plannerUserPrompt, repairPrompt, summarizeWorkflow } from "../src/architect/prompt.ts";
import { startFakeOpenAI, type FakeOpenAI, type FakeReply } from "./fixtures/fakeOpenAI.ts";

const VALID = {
  version: 1,
  goal: "ship the flag",
  tasks: [
    { id: "add-flag", title: "Add the flag", workflow: "noop", scope: { writes: ["src/a.ts"] } },
    { id: "test", title: "Test", workflow: "noop", after: ["add-flag"] },
  ],
};
const GOAL: PlanMessage[] = [{ role: "user", content: plannerUserPrompt("ship the flag") }];

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

function serve(...script: FakeReply[]) {
  fake = startFakeOpenAI(script);
  const config = resolveModelConfig({ OPENAI_BASE_URL: fake.url, FARCASTER_MODEL: "fake-planner" })!;
  const ask = async (messages = GOAL, maxRetries = 0) => requestPlan({ model: await config.load(), system: "SYSTEM", messages, maxRetries });
  return { fake, config, ask };
}

async function failure(promise: Promise<unknown>): Promise<FarcasterError> {
  try {
    await promise;
  } catch (error) {
    return error as FarcasterError;
  }
  throw new Error("expected a failure");
}

describe("requestPlan through the chat-completions API", () => {
  test("a valid plan comes back with no issues and its usage", async () => {
    const { fake, ask } = serve({ content: JSON.stringify(VALID), usage: { inputTokens: 812, outputTokens: 95 } });
    const response = await ask();
    expect(response.issues).toEqual([]);
    expect(response.candidate).toEqual(VALID);
    expect(response.usage).toEqual({ inputTokens: 812, outputTokens: 95 });
    expect(response.finishReason).toBe("stop");
    expect(fake.requests).toHaveLength(1);
    const body = fake.requests[0]!.body;
    expect(fake.requests[0]!.path).toBe("/v1/chat/completions");
    expect(body.model).toBe("fake-planner");
    expect(body.messages).toEqual([{ role: "system", content: "SYSTEM" }, { role: "user", content: GOAL[0]!.content }]);
    // Structured output goes as a non-strict json_schema response format.
    expect(body.response_format.type).toBe("json_schema");
    expect(body.response_format.json_schema.strict).toBe(false);
    expect(body.response_format.json_schema.schema.required).toEqual(["goal", "tasks"]);
  });

  test("an unknown dependency comes back as an issue with its path", async () => {
    const plan = { ...VALID, tasks: [VALID.tasks[0], { ...VALID.tasks[1], after: ["compile"] }] };
    const { ask } = serve({ content: JSON.stringify(plan) });
    const response = await ask();
    expect(response.candidate).toEqual(plan);
    expect(response.issues).toEqual([{ path: "tasks[1].after[0]", message: 'unknown task "compile"; known ids: add-flag, test' }]);
  });

  test("a cycle is named", async () => {
    const plan = { ...VALID, tasks: [{ ...VALID.tasks[0], after: ["test"] }, VALID.tasks[1]] };
    const { ask } = serve({ content: JSON.stringify(plan) });
    const { issues } = await ask();
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toContain("dependency cycle: add-flag -> test -> add-flag");
  });

  test("garbage gives no candidate and one issue, not an error", async () => {
    const { ask } = serve({ content: "I would be happy to help! First, consider the goal." });
    const response = await ask();
    expect(response.candidate).toBeNull();
    expect(response.text).toContain("happy to help");
    expect(response.issues).toHaveLength(1);
    expect(response.issues[0]!.path).toBe("");
    expect(response.issues[0]!.message).toContain("no JSON workplan");
    expect(response.usage.outputTokens).toBeGreaterThan(0);
  });

  test("a fenced ```json answer is extracted, and so is a bare object amid prose", async () => {
    const { ask } = serve(
      { content: "Here is the plan:\n```json\n" + JSON.stringify(VALID, null, 2) + "\n```\nGood luck." },
      { content: `Plan (note: "}" is fine in strings): ${JSON.stringify({ ...VALID, goal: "a } b" })} -- done` },
    );
    expect(await ask()).toMatchObject({ candidate: VALID, issues: [] });
    expect(await ask()).toMatchObject({ candidate: { goal: "a } b" }, issues: [] });
  });

  test("an answer cut off at the token limit says so", async () => {
    const { ask } = serve({ content: JSON.stringify(VALID).slice(0, 40), finishReason: "length" });
    const response = await ask();
    expect(response.candidate).toBeNull();
    expect(response.finishReason).toBe("length");
    expect(response.issues[0]!.message).toContain("cut off");
  });

  test("a repair conversation sends the previous answer and the repair prompt", async () => {
    const { fake, ask } = serve({ content: JSON.stringify(VALID) });
    const issues = [{ path: "tasks[1].after[0]", message: 'unknown task "compile"' }];
    await ask([...GOAL, { role: "assistant", content: "{...}" }, { role: "user", content: repairPrompt(issues) }]);
    const messages = fake.requests[0]!.body.messages;
    expect(messages.map((m: { role: string }) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(messages[3].content).toContain('tasks[1].after[0]: unknown task "compile"');
  });

  test("an HTTP 500 becomes model_call_failed naming the model and base URL", async () => {
    const { fake, ask } = serve({ status: 500 });
    const error = await failure(ask());
    expect(error).toBeInstanceOf(FarcasterError);
    expect(error.code).toBe("model_call_failed");
    expect(error.message).toContain("fake-planner");
    expect(error.message).toContain(fake.url);
    expect(error.message).toContain("HTTP 500");
  });

  test("the SDK retries a 429 per Retry-After, then gives up with the typed error", async () => {
    const busy = { status: 429, headers: { "retry-after": "0" } };
    const { fake, ask } = serve(busy, { content: JSON.stringify(VALID) }, busy, busy, busy);
    expect((await ask(GOAL, 2)).issues).toEqual([]);
    expect(fake.requests).toHaveLength(2);
    const error = await failure(ask(GOAL, 2));
    expect(error.code).toBe("model_call_failed");
    expect(error.message).toContain("after 3 attempts");
    expect(fake.requests).toHaveLength(5);
  });

  test("a refused connection becomes model_call_failed", async () => {
    const { fake, ask } = serve();
    await fake.stop();
    const error = await failure(ask());
    expect(error.code).toBe("model_call_failed");
    expect(error.message).toContain(fake.url);
  });

  test("an abort passes through as the caller's abort, not a model failure", async () => {
    const { config } = serve({ content: JSON.stringify(VALID), delayMs: 2_000 });
    const error = await failure(requestPlan({ model: await config.load(), system: "S", messages: GOAL, signal: AbortSignal.timeout(50) }));
    expect(error.code).not.toBe("model_call_failed");
  });
});

test("the Responses API (the default without a base URL) works the same", async () => {
  fake = startFakeOpenAI([{ content: JSON.stringify(VALID), usage: { inputTokens: 10, outputTokens: 20 } }]);
  const model = createOpenAI({ baseURL: fake.url, apiKey: "test" })("fake-responses");
  const response = await requestPlan({ model, system: "SYSTEM", messages: GOAL, maxRetries: 0 });
  expect(response).toMatchObject({ candidate: VALID, issues: [], usage: { inputTokens: 10, outputTokens: 20 }, finishReason: "stop" });
  expect(fake.requests[0]!.path).toBe("/v1/responses");
  expect(fake.requests[0]!.body.text.format).toMatchObject({ type: "json_schema", strict: false, name: "workplan" });
});

describe("resolveModelConfig", () => {
  test("no key and no base URL: no model", () => {
    expect(resolveModelConfig({})).toBeNull();
    expect(resolveModelConfig({ OPENAI_API_KEY: " ", FARCASTER_MODEL: "x" })).toBeNull();
  });

  test("a base URL picks the chat API; the key is optional", () => {
    const config = resolveModelConfig({ OPENAI_BASE_URL: "http://localhost:11434/v1/", FARCASTER_MODEL: "llama3.1" })!;
    expect(config).toMatchObject({ modelName: "llama3.1", baseURL: "http://localhost:11434/v1", api: "chat" });
  });

  test("only a key: the Responses API and the default model", () => {
    const config = resolveModelConfig({ OPENAI_API_KEY: "sk-test" })!;
    expect(config).toMatchObject({ modelName: DEFAULT_MODEL, baseURL: null, api: "responses" });
  });

  test("a bad base URL is rejected naming OPENAI_BASE_URL", () => {
    for (const bad of ["localhost:11434", "not a url", "ftp://host/v1"]) {
      const error = (() => {
        try {
          resolveModelConfig({ OPENAI_BASE_URL: bad });
        } catch (e) {
          return e as FarcasterError;
        }
      })();
      expect(error?.code).toBe("model_misconfigured");
      expect(error?.message).toContain("OPENAI_BASE_URL");
    }
  });
});

describe("prompts", () => {
  test("workflows are summarized with their input JSON Schema", () => {
    const summary = summarizeWorkflow({ name: "shell", description: "runs a command", input: z.object({ command: z.string(), env: z.record(z.string(), z.string()).default({}) }) });
    expect(summary.inputSchema).toMatchObject({ type: "object", properties: { command: { type: "string" } }, required: ["command"] });
    const broken = summarizeWorkflow({ name: "odd", input: { not: "a zod schema" } as never });
    expect(broken.inputSchema).toEqual({});
    const system = plannerSystemPrompt([summary, broken]);
    expect(system).toContain("Use only these workflows: shell, odd");
    expect(system).toContain('"command":{"type":"string"}');
  });
});
