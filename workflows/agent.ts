/**
 * `agent`: an AI worker. Each model turn is a journaled step (input: the new
 * messages; output: the answer with its tool calls and token usage) and each
 * tool call is a journaled step, so a drone that dies mid-task resumes on
 * another without asking the model again for journaled turns and without
 * re-running journaled tool calls. Limits are code: the tools enforce the
 * task's scope, a command outside the allow-list becomes a human gate, and
 * budgets end the task as "exhausted" before the next turn would exceed them.
 */
import type { ModelMessage } from "ai";
import { z } from "zod";
import { parseDuration } from "../src/core/duration.ts";
import { NonRetryableError } from "../src/core/errors.ts";
import { resolveModelConfig } from "../src/architect/model.ts";
import { addUsage, checkBudget, checkRunBudget, NO_USAGE, priceOf, type Budget, type Usage } from "../src/agent/budget.ts";
import type { TurnResult } from "../src/agent/modelTurn.ts";
import { agentSystemPrompt, agentTaskPrompt } from "../src/agent/prompt.ts";
import { DEFAULT_COMMAND_TIMEOUT_MS, executeCommand, runTool, Workspace, type ToolResult } from "../src/agent/tools.ts";
import { defineWorkflow, type WorkflowContext } from "../src/engine/workflow.ts";

const duration = z.union([z.string(), z.number()]).refine((v) => parseDuration(v) !== undefined, "expected a duration such as 10m");

export default defineWorkflow({
  name: "agent",
  description: "an AI worker with file and command tools, limited to the task's scope and budget",
  input: z
    .object({
      instructions: z.string().min(1, "tell the agent what to do"),
      output: z.string().optional().describe("what the output of finish must hold"),
      budget: z
        .object({
          turns: z.number().int().min(1).max(500).optional(),
          inputTokens: z.number().int().min(1).optional(),
          outputTokens: z.number().int().min(1).optional(),
          wallTime: duration.optional(),
          costUsd: z.number().positive().optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  limits: { retries: 1, leaseMs: 60_000, timeoutMs: 60 * 60_000, concurrency: 4 },
  usesModel: true,
  async run(ctx, input) {
    const config = resolveModelConfig();
    if (!config) throw new NonRetryableError("the agent needs a model: set OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server", { code: "no_model" });
    const workspace = new Workspace(ctx.task.cwd, ctx.task.scope ?? {});
    const budget: Budget = {
      turns: input.budget?.turns ?? 30,
      inputTokens: input.budget?.inputTokens,
      outputTokens: input.budget?.outputTokens,
      wallTimeMs: input.budget?.wallTime === undefined ? undefined : parseDuration(input.budget.wallTime),
      costUsd: input.budget?.costUsd,
    };
    const price = priceOf(config.modelName);
    const system = agentSystemPrompt(ctx.task);
    const messages: ModelMessage[] = [{ role: "user", content: agentTaskPrompt(ctx.task, input.instructions, ctx.deps, ctx.feedback, input.output) }];
    const startedAt = await ctx.now();
    let usage: Usage = NO_USAGE;
    let sent = 0;

    const runBudget = await ctx.run.budget();
    for (;;) {
      checkBudget(budget, usage, Date.now() - startedAt);
      if (runBudget) checkRunBudget(runBudget, await ctx.run.modelUsage(), price);
      const fresh = messages.slice(sent);
      sent = messages.length;
      const turn: TurnResult = await ctx.step("turn", { messages: fresh }, async (_input, signal) => {
        // The AI SDK is imported by the first turn, not by every process that loads this workflow (src/architect/model.ts).
        const [{ modelTurn }, model] = await Promise.all([import("../src/agent/modelTurn.ts"), config.load()]);
        return modelTurn({ model, system, messages, signal });
      }, {
        usage: (result) => result.usage,
      });
      usage = addUsage(usage, turn.usage, price);
      messages.push(...turn.messages);
      if (turn.toolCalls.length === 0) {
        messages.push({ role: "user", content: "Continue with the tools. Call finish with your summary and output when the task is done." });
        continue;
      }
      const results: ModelMessage = { role: "tool", content: [] };
      let finished: { summary: string; output: unknown } | null = null;
      for (const call of turn.toolCalls) {
        let result: ToolResult;
        if (call.toolName === "finish") {
          const args = call.input as { summary?: unknown; output?: unknown };
          finished = { summary: String(args?.summary ?? ""), output: args?.output ?? null };
          result = { ok: true, finished: true };
        } else {
          result = await ctx.step(`tool:${call.toolName}`, { args: call.input }, (stepInput, signal) => runTool(call.toolName, workspace, stepInput.args, signal));
          if (!result.ok && result.needsApproval) result = await askForCommand(ctx, workspace, String(result.command), String(result.reason));
        }
        ctx.log("info", `${call.toolName} ${JSON.stringify(call.input).slice(0, 120)} -> ${result.ok ? "ok" : result.error}\n`);
        (results.content as unknown[]).push({ type: "tool-result", toolCallId: call.toolCallId, toolName: call.toolName, output: { type: "json", value: result } });
      }
      messages.push(results);
      if (finished) return { summary: finished.summary, output: finished.output, usage };
    }
  },
});

/** A command outside the allow-list: a person approves (it runs once) or refuses (the model hears why). */
async function askForCommand(ctx: WorkflowContext, workspace: Workspace, command: string, reason: string): Promise<ToolResult> {
  const decision = await ctx.approval("command", {
    question: `Task ${ctx.task.key} wants to run \`${command}\`. Allow it once?`,
    evidence: { command, why: reason, task: ctx.task.title },
    onReject: "return",
  });
  if (!decision.approved) return { ok: false, refused: true, error: `a person (${decision.by}) refused to run \`${command}\`: ${decision.reason ?? "no reason given"}` };
  return ctx.step("approved-command", { command }, (stepInput, signal) => executeCommand(workspace, stepInput.command, DEFAULT_COMMAND_TIMEOUT_MS, signal));
}
