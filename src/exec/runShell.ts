/**
 * Running a shell command as a task step does: `sh -c` in its own process
 * group (so a cancel, a lost lease or a timeout kills every grandchild too),
 * with `bun` on PATH, output streamed to a callback and a bounded tail kept.
 * Used by the shell workflow and the agent's command tool.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";

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
