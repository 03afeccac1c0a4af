/**
 * The Architect's loop: ask the model for a plan, check it against the DAG
 * rules and the workflows, send the problems back, a bounded number of times.
 * `step` wraps each model call: the durable workflow passes `ctx.step` (so a
 * crash after an answer never pays for it twice); `farcaster plan` calls directly.
 */
import { PlanInvalidError, type PlanIssue } from "../core/errors.ts";
import type { ValidWorkplan } from "../core/workplan.ts";
import type { WorkflowCatalog } from "../engine/workflow.ts";
import type { ModelConfig } from "./model.ts";
import type { PlanMessage, PlanResponse } from "./planner.ts";
import { plannerSystemPrompt, plannerUserPrompt, repairPrompt, summarizeWorkflow } from "./prompt.ts";

export type ModelStep = (
  name: string,
  input: { model: string; messages: PlanMessage[] },
  call: (input: { model: string; messages: PlanMessage[] }, signal: AbortSignal) => Promise<PlanResponse>,
) => Promise<PlanResponse>;

export interface PlanGoalOptions {
  goal: string;
  workflows: WorkflowCatalog;
  config: ModelConfig;
  maxRepairs: number;
  step: ModelStep;
  /** Reasons people gave when they rejected earlier plans: the model hears them. */
  feedback?: readonly string[];
}

export type PlanGoalResult = { ok: true; plan: ValidWorkplan; calls: number } | { ok: false; issues: PlanIssue[]; calls: number };

export function checkCandidate(workflows: WorkflowCatalog, candidate: unknown, source?: string): { plan?: ValidWorkplan; issues: PlanIssue[] } {
  try {
    return { plan: workflows.checkPlan(candidate, source), issues: [] };
  } catch (error) {
    if (error instanceof PlanInvalidError) return { issues: [...error.issues] };
    throw error;
  }
}

export async function planGoal(options: PlanGoalOptions): Promise<PlanGoalResult> {
  const { workflows, config } = options;
  const system = plannerSystemPrompt(workflows.plannable().map((name) => summarizeWorkflow(workflows.get(name)!)));
  const messages: PlanMessage[] = [{ role: "user", content: plannerUserPrompt(options.goal, options.feedback) }];
  let issues: PlanIssue[] = [];
  for (let round = 0; round <= options.maxRepairs; round++) {
    const response = await options.step("model", { model: config.modelName, messages: [...messages] }, async (input, signal) => {
      // The AI SDK is imported when a plan is asked of the model (see model.ts).
      const [{ requestPlan }, model] = await Promise.all([import("./planner.ts"), config.load()]);
      return requestPlan({ model, system, messages: input.messages, signal });
    });
    const result = response.issues.length > 0 ? { issues: response.issues } : checkCandidate(workflows, response.candidate, "the model's plan");
    if (result.plan) return { ok: true, plan: result.plan, calls: round + 1 };
    issues = result.issues;
    messages.push({ role: "assistant", content: response.text }, { role: "user", content: repairPrompt(issues) });
  }
  return { ok: false, issues, calls: options.maxRepairs + 1 };
}

export function formatIssues(issues: readonly PlanIssue[]): string {
  return issues.map((issue) => `  - ${issue.path ? issue.path + ": " : ""}${issue.message}`).join("\n");
}
