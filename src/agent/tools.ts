/**
 * The agent's tools, one place for the workflow to take them from: each is
 * `(workspace, args, signal) => Promise<ToolResult>` and never throws for a
 * refusal or a failure (only when `signal` aborts). `runTool` adds argument
 * validation for calls that come straight from a model.
 */
import { z } from "zod";
import { runShell } from "../exec/runShell.ts";
import { editFile, listFiles, readFile, searchFiles, writeFile } from "./fileTools.ts";
import { guarded, type Json, type Tool, type ToolResult } from "./result.ts";
import { TOOL_DESCRIPTIONS, TOOL_NAMES, TOOL_SCHEMAS, type ToolArgs, type ToolName } from "./schemas.ts";
import type { Workspace } from "./scope.ts";

export { editFile, LIMITS, listFiles, readFile, searchFiles, writeFile } from "./fileTools.ts";
export type { Json, Tool, ToolFailure, ToolResult, ToolSuccess } from "./result.ts";
export * from "./schemas.ts";
export { ScopeViolation, Workspace, type ResolvedPath, type Scope, type ScopeViolationCode } from "./scope.ts";
export { checkCommand, type CommandCheck } from "./command.ts";

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/**
 * Variables a command never sees, even when the drone has them: the model's
 * provider keys and the API token. An allowed `bun test` has no use for them,
 * and a command is the one tool that could send them somewhere.
 */
const SECRET_ENV = /^(OPENAI|ANTHROPIC|GOOGLE_GENERATIVE_AI|MISTRAL|GROQ|XAI|AI_GATEWAY)_|^FARCASTER_TOKEN$/;

/**
 * Runs the command if the task's allow-list lets it; otherwise runs nothing and
 * answers `needsApproval`, which the workflow turns into a human gate (and, if
 * approved, runs it with `executeCommand`).
 */
export const runCommand = guarded<ToolArgs<"run_command">>(async (ws, args, signal) => {
  const check = ws.checkCommand(args.command);
  if (!check.allowed) {
    return { ok: false, needsApproval: true, command: args.command, reason: check.reason, error: `not run: ${check.reason}` };
  }
  return executeCommand(ws, args.command, args.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, signal);
});

/**
 * Runs a command with `sh -c` in the workspace root, with no allow-list check
 * (the caller has one: the list, or a person's approval). A non-zero exit is
 * still `ok: true`: the tool did its job, and `exitCode` says how the command
 * went. A timeout kills the process group and answers `timedOut`; the output
 * so far is lost with it. An abort of `signal` kills it too, and rethrows.
 */
export async function executeCommand(ws: Workspace, command: string, timeoutMs: number, signal: AbortSignal): Promise<ToolResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const env: Record<string, string> = {};
  for (const name of Object.keys(process.env)) if (SECRET_ENV.test(name)) env[name] = "";
  try {
    const result = await runShell(command, { cwd: ws.root, env, signal: AbortSignal.any([signal, timeout]) });
    return { ok: true, command, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  } catch (error) {
    if (signal.aborted || !timeout.aborted) throw error;
    return { ok: false, timedOut: true, command, error: `\`${command}\` did not finish within ${timeoutMs} ms and was killed (with everything it started)` };
  }
}

/** Ends the task. The workflow stops its loop when it sees `finished: true`. */
export const finish = guarded<ToolArgs<"finish">>(async (_ws, args) => {
  return { ok: true, finished: true, summary: args.summary, output: (args.output ?? null) as Json };
});

export const TOOLS: { [N in ToolName]: Tool<ToolArgs<N>> } = {
  read_file: readFile,
  list_files: listFiles,
  search_files: searchFiles,
  write_file: writeFile,
  edit_file: editFile,
  run_command: runCommand,
  finish,
};

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

/** Calls a tool by name with unchecked arguments (as a model sends them); bad names and arguments are results too. */
export async function runTool(name: string, ws: Workspace, args: unknown, signal: AbortSignal): Promise<ToolResult> {
  if (!isToolName(name)) return { ok: false, error: `there is no tool "${name}"; the tools are: ${TOOL_NAMES.join(", ")}` };
  const parsed = TOOL_SCHEMAS[name].safeParse(args);
  if (!parsed.success) return { ok: false, error: `invalid arguments for ${name}: ${z.prettifyError(parsed.error)}` };
  return (TOOLS[name] as Tool<unknown>)(ws, parsed.data, signal);
}

/** name → { description, inputSchema }, ready to map into the AI SDK's `tool(...)`. */
export const TOOL_DEFINITIONS = Object.fromEntries(
  TOOL_NAMES.map((name) => [name, { description: TOOL_DESCRIPTIONS[name], inputSchema: TOOL_SCHEMAS[name] }]),
) as { [N in ToolName]: { description: string; inputSchema: (typeof TOOL_SCHEMAS)[N] } };
