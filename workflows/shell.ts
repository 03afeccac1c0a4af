/**
 * `shell`: runs a command with `sh -c` in the run's working directory.
 * The journal keeps the exit code and a bounded tail of stdout and stderr; a
 * non-zero exit fails the step with that tail. Cancellation, lease loss and
 * timeouts kill the whole process group, so no grandchild outlives the task.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { z } from "zod";
import { defineWorkflow } from "../src/engine/workflow.ts";

const TAIL_BYTES = 4_000;

export interface ShellResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

let shimDir: string | undefined;

/**
 * A directory whose `bun` is the runtime running us, put first on PATH so `bun`
 * in a command works even when we were started by `npx bun` (whose binary is
 * named bun.exe inside node_modules and is not on PATH).
 */
function bunOnPath(): string {
  if (basename(process.execPath) === "bun") return dirname(process.execPath);
  if (!shimDir) {
    shimDir = mkdtempSync(join(tmpdir(), "farcaster-bun-"));
    symlinkSync(process.execPath, join(shimDir, "bun"));
  }
  return shimDir;
}

function tail(chunks: Buffer[]): string {
  const text = Buffer.concat(chunks).toString("utf8");
  return text.length > TAIL_BYTES ? "…" + text.slice(-TAIL_BYTES) : text;
}

export function runShell(
  command: string,
  options: { cwd: string; env?: Record<string, string>; signal: AbortSignal; onOutput?: (stream: "stdout" | "stderr", text: string) => void },
): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], {
      cwd: options.cwd,
      env: { ...process.env, PATH: `${bunOnPath()}${delimiter}${process.env.PATH ?? ""}`, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so we can kill it whole
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const keep = (list: Buffer[]) => (chunk: Buffer) => {
      list.push(chunk);
      size += chunk.length;
      // Bound memory: keep only what the tails need.
      if (size > 8 * TAIL_BYTES) for (const l of [out, err]) while (l.length > 1 && Buffer.concat(l).length > 2 * TAIL_BYTES) l.shift();
    };
    child.stdout!.on("data", keep(out));
    child.stderr!.on("data", keep(err));
    if (options.onOutput) {
      child.stdout!.on("data", (chunk: Buffer) => options.onOutput!("stdout", chunk.toString("utf8")));
      child.stderr!.on("data", (chunk: Buffer) => options.onOutput!("stderr", chunk.toString("utf8")));
    }
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    };
    options.signal.addEventListener("abort", kill, { once: true });
    child.on("error", (error) => reject(new Error(`could not start \`${command}\`: ${error.message}`)));
    child.on("close", (code, signal) => {
      options.signal.removeEventListener("abort", kill);
      if (options.signal.aborted) return reject(options.signal.reason);
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout: tail(out), stderr: tail(err) });
    });
  });
}

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
  limits: { timeoutMs: 10 * 60_000 },
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
