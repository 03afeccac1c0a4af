/**
 * `bench-noop`: `steps` journaled ctx.step calls of a function that does
 * nothing, then an optional `holdMs` step that just waits. The first step
 * marks when it began (probe.firstStep: dispatch latency); with `loop`, the
 * time of the whole step loop is recorded too (per-step journaling cost).
 */
import { z } from "zod";
import { defineWorkflow } from "../../src/engine/workflow.ts";
import { probe, sleep, wallNow } from "./_probe.ts";

const nothing = () => null;

export default defineWorkflow({
  name: "bench-noop",
  description: "benchmark: N no-op journaled steps",
  input: z.object({
    steps: z.number().int().min(0).default(1),
    holdMs: z.number().min(0).default(0),
    loop: z.boolean().default(false),
  }),
  async run(ctx, input) {
    const taskId = ctx.task.taskId;
    const started = wallNow();
    for (let i = 0; i < input.steps; i++) {
      if (i === 0) {
        await ctx.step("noop", () => {
          probe.firstStep.set(taskId, wallNow());
          return null;
        });
      } else {
        await ctx.step("noop", nothing);
      }
    }
    if (input.loop) probe.loops.push({ taskId, steps: input.steps, ms: wallNow() - started });
    if (input.holdMs > 0) await ctx.step("hold", (signal) => sleep(input.holdMs, signal).then(nothing));
    return null;
  },
});
