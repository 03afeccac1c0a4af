/**
 * The runtime a drone process runs best with, given to it at start-up.
 *
 * Two settings of the Bun runtime are read once, from the environment, when
 * the process starts: mimalloc's purge delay and JavaScriptCore's options.
 * A command that runs drones (worker, serve, the main job) therefore puts
 * what it lacks of them in its environment and replaces itself with the
 * same command line (process.execve: the same process id, stdio and
 * signals, so whoever started it, SIGKILL included, still holds it).
 *
 * - MIMALLOC_PURGE_DELAY=-1: the allocator keeps the pages a batch freed
 *   instead of handing them back to the system a moment later. A drone
 *   frees and reallocates the same few megabytes batch after batch, so
 *   purging them had its scavenger thread madvise them away and the main
 *   thread fault them back in: a third of a drone's CPU per task. The cost:
 *   the process keeps the memory of its busiest moment (its peak RSS, which
 *   it reached anyway) until it exits.
 * - BUN_JSC_useFTLJIT=false: no top-tier (FTL) compiles. A drone's hot code
 *   is short glue between database round trips; the DFG tier runs it about
 *   as fast, and every drone process compiled its own FTL code, which on a
 *   machine with more drones than cores took CPU from the work.
 *
 * Measured in bench/pg.ts and bench/main.ts (bench/README.md, "A drone's
 * runtime: the allocator keeps its pages"). A setting already in the
 * environment is kept: a user who sets one decides.
 *
 * A process is not replaced when a tool holds it: under `bun --cpu-prof` the
 * sampling profiler signals the main thread (SIGPWR) every interval, and a
 * signal still pending when execve replaced the image killed the new one
 * before it could install its handler (exit 158, nothing printed); an
 * inspector's session would be dropped. Such a process runs untuned; set
 * the two variables yourself to profile the tuned runtime.
 */

import { isMainJobArgument } from "./mainJobArgument.ts";

/** What a drone process's environment gets where it does not say otherwise. */
export const DRONE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  MIMALLOC_PURGE_DELAY: "-1",
  BUN_JSC_useFTLJIT: "false",
};

/** Set in the replaced process, so that it never replaces itself again; set it to "0" to run untuned. */
export const TUNED_MARKER = "FARCASTER_RUNTIME_TUNED";

/** The commands whose process runs drones, and `farcaster GOAL.md` (the main job). */
const DRONE_COMMANDS = new Set(["worker", "serve", "run", "resume"]);

export function runsDrones(args: readonly string[]): boolean {
  const first = args[0];
  if (first === undefined) return false;
  if (args.includes("--help") || args.includes("-h")) return false;
  if (DRONE_COMMANDS.has(first)) return !args.includes("--detach");
  return isMainJobArgument(first);
}

/** The environment to start again with, or null: nothing to add (or tuning was asked off, or done). */
export function tunedEnvironment(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Record<string, string> | null {
  if (env[TUNED_MARKER] !== undefined || !runsDrones(args)) return null;
  const missing = Object.entries(DRONE_RUNTIME_ENV).filter(([name]) => env[name] === undefined);
  if (missing.length === 0) return null;
  const next: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) next[name] = value;
  for (const [name, value] of missing) next[name] = value;
  next[TUNED_MARKER] = "1";
  return next;
}

/** Runtime flags that attach a profiler or a debugger to the process (see above). */
const TOOL_FLAGS = /^--(cpu-prof|heap-prof|inspect)/;

/**
 * BUN_OPTIONS split as Bun splits it: on whitespace outside quotes, each
 * token as written (quotes kept), which is how it shows in execArgv.
 */
export function bunOptionTokens(options: string): string[] {
  const tokens: string[] = [];
  let token = "";
  let quote: string | null = null;
  for (const ch of options) {
    if (quote) {
      if (ch === quote) quote = null;
      token += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      token += ch;
    } else if (/\s/.test(ch)) {
      if (token) tokens.push(token);
      token = "";
    } else token += ch;
  }
  if (token) tokens.push(token);
  return tokens;
}

/**
 * The runtime flags to start again with, or null when this process must not
 * be replaced. Bun puts the flags of BUN_OPTIONS first in execArgv, and the
 * replaced process reads BUN_OPTIONS again (the environment is kept), so
 * they are left out here, or they would apply twice (a second --preload);
 * when execArgv does not begin with them as expected, the process is not
 * replaced rather than risk it.
 */
export function restartFlags(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] | null {
  if (execArgv.some((flag) => TOOL_FLAGS.test(flag))) return null;
  const fromEnv = bunOptionTokens(env.BUN_OPTIONS ?? "");
  if (fromEnv.some((flag, i) => execArgv[i] !== flag)) return null;
  return execArgv.slice(fromEnv.length);
}

/**
 * Replaces this process with the same command line in the tuned
 * environment, if it runs drones and lacks it. Returns only when nothing
 * was to be done, the process must not be replaced (restartFlags), or the
 * runtime cannot replace a process (Windows): then the command runs as it
 * is, untuned.
 */
export function tuneDroneRuntime(): void {
  const args = process.argv.slice(2);
  const env = tunedEnvironment(args, process.env);
  if (env === null || typeof process.execve !== "function" || process.platform === "win32") return;
  const flags = restartFlags(process.execArgv, process.env);
  if (flags === null) return;
  try {
    process.execve(process.execPath, [process.execPath, ...flags, ...process.argv.slice(1)], env);
  } catch {
    // Not replaced (the runtime refused): run on, untuned.
  }
}
