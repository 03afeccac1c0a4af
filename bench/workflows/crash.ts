/**
 * `bench-crash`: one step that appends a JSON line {taskId, attempt, worker,
 * pid, at} to `file` as it begins, then, on the first attempt only, waits
 * `holdMs` (long enough to be killed in). A later attempt finishes at once, so
 * the drone that recovered the task is idle again for the next repetition.
 */
import { appendFileSync } from "node:fs";
import { z } from "zod";
import { defineWorkflow } from "../../src/engine/workflow.ts";
import { sleep, wallNow } from "./_probe.ts";

export interface CrashMark {
  taskId: number;
  attempt: number;
  worker: string;
  pid: number;
  /** Epoch ms, sub-millisecond precision. */
  at: number;
}

export default defineWorkflow({
  name: "bench-crash",
  description: "benchmark: a long first attempt to kill a drone in",
  input: z.object({ file: z.string().min(1), holdMs: z.number().min(0).default(60_000) }),
  async run(ctx, input) {
    await ctx.step("hold", async (signal) => {
      const mark: CrashMark = { taskId: ctx.task.taskId, attempt: ctx.task.attempt, worker: ctx.task.worker, pid: process.pid, at: wallNow() };
      appendFileSync(input.file, `${JSON.stringify(mark)}\n`);
      if (ctx.task.attempt === 1) await sleep(input.holdMs, signal);
      return null;
    });
    return null;
  },
});
