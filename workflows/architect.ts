/**
 * `architect`: turns a goal into a validated workplan. It is the first task
 * of every goal run (key "@plan"); when it completes, the store inserts the
 * plan's tasks into the run in the same transaction.
 *
 * - A plan carried by the goal file is validated and used as it is.
 * - Otherwise a model writes it. Each model call is a journaled step, so a
 *   crash after the model answered does not pay for the call twice. An
 *   invalid answer is sent back with its problems, a bounded number of times.
 * - Review: the plan is shown at a gate (`review: "gate"`), every command
 *   and agent scope in full (src/view/planReview.ts); a plan in which a model
 *   wrote shell commands or agent tasks is always gated, whatever was asked.
 * - A person who rejects the plan with action "retry" gives a reason: the
 *   task starts over and the model is asked again with that reason.
 */
import { z } from "zod";
import { NonRetryableError, PlanInvalidError } from "../src/core/errors.ts";
import type { ValidWorkplan } from "../src/core/workplan.ts";
import { resolveModelConfig } from "../src/architect/model.ts";
import { noModelMessage } from "../src/architect/noModel.ts";
import { checkCandidate, formatIssues, planGoal } from "../src/architect/planGoal.ts";
import { defineWorkflow } from "../src/engine/workflow.ts";
import { planReview } from "../src/view/planReview.ts";

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
  usesModel: (input) => input.plan === undefined, // a goal file's own plan needs no model
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
      const result = await planGoal({
        goal: input.goal, workflows: ctx.workflows, config, maxRepairs: input.maxRepairs, feedback: ctx.feedback,
        step: (name, stepInput, call) => ctx.step(name, stepInput, call),
      });
      if (!result.ok) {
        throw new NonRetryableError(`the model's plan was still invalid after ${result.calls} attempts:\n${formatIssues(result.issues)}`, { code: "plan_invalid" });
      }
      valid = result.plan;
    }

    const review = planReview(valid.plan, valid.waves, byModel ? "model" : "goal file");
    if (input.review === "gate" || review.risks.length > 0) {
      const warning = review.risks.length > 0 ? `, with ${review.risks.join(" and ")}` : "";
      await ctx.approval("plan", {
        question: `Approve the plan: ${valid.plan.tasks.length} tasks in ${valid.waves.length} waves${warning}?`,
        evidence: review,
      });
    }
    return valid.plan;
  },
});
