/**
 * `shell`: runs a command with `sh -c` in the run's working directory.
 * The journal keeps the exit code and a bounded tail of stdout and stderr; a
 * non-zero exit fails the step with that tail. Cancellation, lease loss and
 * timeouts kill the whole process group, so no grandchild outlives the task.
 */
import { z } from "zod";
import { defineWorkflow } from "../src/engine/workflow.ts";
import { runShell } from "../src/exec/runShell.ts";

export type { ShellResult } from "../src/exec/runShell.ts";

export default defineWorkflow({
  name: "shell",
  description: "runs a shell command in the run's working directory; fails on a non-zero exit",
  input: z
    .object({
      command: z.string().min(1, "give the command to run"),
      cwd: z.string().optional().describe("relative to the run's working directory"),
      env: z.record(z.string(), z.string()).optional(),
    })
    .strict(),
  // A drone has many slots for cheap tasks; commands are processes: a few at a time per drone.
  limits: { timeoutMs: 10 * 60_000, concurrency: 8 },
  async run(ctx, input) {
    return ctx.step("command", input, async (stepInput, signal) => {
      const cwd = new URL(stepInput.cwd ?? ".", `file://${ctx.task.cwd.replace(/\/?$/, "/")}`).pathname;
      ctx.log("info", `$ ${stepInput.command}\n`);
      const result = await runShell(stepInput.command, { cwd, env: stepInput.env, signal, onOutput: (stream, text) => ctx.log(stream, text) });
      if (result.exitCode !== 0) {
        const detail = (result.stderr || result.stdout).trim();
        const separator = detail.includes("\n") ? ":\n" : ": ";
        throw new Error(`\`${stepInput.command}\` exited with code ${result.exitCode}${detail ? separator + detail : ""}`);
      }
      return result;
    });
  },
});
