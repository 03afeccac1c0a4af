/**
 * `architect`: turns a goal into a validated workplan. It is the first task
 * of every goal run (key "@plan"); when it completes, the store inserts the
 * plan's tasks into the run in the same transaction.
 *
 * - A plan carried by the goal file is validated and used as it is.
 * - Otherwise a model writes it. Each model call is a journaled step, so a
 *   crash after the model answered does not pay for the call twice. An
 *   invalid answer is sent back with its problems, a bounded number of times.
 * - Review: the plan is shown at a gate (`review: "gate"`), and a plan with
 *   shell commands written by a model is always gated, whatever was asked.
 */
import { z } from "zod";
import { NonRetryableError, PlanInvalidError } from "../src/core/errors.ts";
import type { ValidWorkplan } from "../src/core/workplan.ts";
import { resolveModelConfig } from "../src/architect/model.ts";
import { noModelMessage } from "../src/architect/noModel.ts";
import { checkCandidate, formatIssues, planGoal } from "../src/architect/planGoal.ts";
import { defineWorkflow } from "../src/engine/workflow.ts";

/** What the plan may spend on models: the run's budget and each agent task's own. */
function budgetEnvelope(plan: ValidWorkplan["plan"]): unknown {
  const agents = plan.tasks.filter((task) => task.workflow === "agent");
  if (agents.length === 0 && !plan.budget) return undefined;
  return {
    run: plan.budget ?? null,
    tasks: Object.fromEntries(agents.map((task) => [task.id, (task.input as { budget?: unknown })?.budget ?? { turns: 30 }])),
  };
}

export default defineWorkflow({
  name: "architect",
  description: "plans a goal into a workplan (the first task of a goal run)",
  input: z.object({
    goal: z.string().min(1),
    source: z.string().optional(),
    /** A plan the goal file carried; no model is called. */
    plan: z.unknown().optional(),
    review: z.enum(["gate", "none"]).default("gate"),
    maxRepairs: z.number().int().min(0).max(5).default(2),
  }),
  limits: { retries: 2, leaseMs: 60_000, timeoutMs: 15 * 60_000, concurrency: 4 },
  async run(ctx, input) {
    let valid: ValidWorkplan;
    const byModel = input.plan === undefined;
    if (!byModel) {
      const result = checkCandidate(ctx.workflows, input.plan, input.source);
      if (!result.plan) throw new NonRetryableError(new PlanInvalidError(result.issues, input.source).message, { code: "plan_invalid" });
      valid = result.plan;
    } else {
      const config = resolveModelConfig();
      if (!config) throw new NonRetryableError(noModelMessage(input.source ?? "the goal"), { code: "no_model" });
      const result = await planGoal({ goal: input.goal, workflows: ctx.workflows, config, maxRepairs: input.maxRepairs, step: (name, stepInput, call) => ctx.step(name, stepInput, call) });
      if (!result.ok) {
        throw new NonRetryableError(`the model's plan was still invalid after ${result.calls} attempts:\n${formatIssues(result.issues)}`, { code: "plan_invalid" });
      }
      valid = result.plan;
    }

    const shell = valid.plan.tasks.filter((task) => task.workflow === "shell");
    if (input.review === "gate" || (byModel && shell.length > 0)) {
      const warning = byModel && shell.length > 0 ? `, including ${shell.length} shell command(s) written by a model` : "";
      await ctx.approval("plan", {
        question: `Approve the plan: ${valid.plan.tasks.length} tasks in ${valid.waves.length} waves${warning}?`,
        evidence: {
          goal: valid.plan.goal,
          writtenBy: byModel ? "model" : "goal file",
          waves: valid.waves,
          budget: budgetEnvelope(valid.plan),
          tasks: valid.plan.tasks.map((task) => ({ id: task.id, title: task.title, workflow: task.workflow, input: task.input, after: task.after, ...(task.scope ? { scope: task.scope } : {}) })),
        },
      });
    }
    return valid.plan;
  },
});
