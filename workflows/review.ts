/**
 * `review`: a human review gate. The task waits (without a lease) until a
 * person approves, or rejects with a reason, through `farcaster approve|reject`,
 * the HTTP API or the dashboard. Rejecting fails the task (its dependents are
 * skipped) unless the person chose `--action retry`.
 */
import { z } from "zod";
import { GATE_TIMEOUT_ACTIONS } from "../src/core/states.ts";
import { parseDuration } from "../src/core/duration.ts";
import { defineWorkflow } from "../src/engine/workflow.ts";

export default defineWorkflow({
  name: "review",
  description: "waits for a person to approve or reject; evidence may include what the dependencies produced",
  input: z
    .object({
      question: z.string().min(1, "ask the reviewer a question"),
      evidence: z.unknown().optional(),
      timeout: z
        .union([z.string(), z.number()])
        .refine((value) => parseDuration(value) !== undefined, "expected a duration such as 30m or 2h")
        // A gate that times out at once fails its task before anyone could look.
        .refine((value) => parseDuration(value) !== 0, "expected a duration longer than 0, such as 30m or 2h (leave it out to wait as long as it takes)")
        .optional()
        .describe("how long the gate may wait, e.g. 1h; then the task fails (or escalates)"),
      onTimeout: z.enum(GATE_TIMEOUT_ACTIONS).optional(),
    })
    .strict(),
  async run(ctx, input) {
    const timeoutMs = input.timeout === undefined ? undefined : parseDuration(input.timeout);
    const evidence = input.evidence ?? (Object.keys(ctx.deps).length > 0 ? { dependencies: ctx.deps } : undefined);
    return ctx.approval("review", { question: input.question, evidence, timeoutMs, onTimeout: input.onTimeout });
  },
});
