/**
 * What a tool call returns. Plain JSON, refusals and errors included: the
 * workflow journals each call as a step and feeds the result back to the
 * model next turn, so a refusal must be something the model can read and act
 * on, not an exception that ends the task.
 */
import { ScopeViolation, type Workspace } from "./scope.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a tool call returns to the model. Never thrown: failures are results too. */
export type ToolResult = ToolSuccess | ToolFailure;

export interface ToolSuccess {
  ok: true;
  [key: string]: Json | undefined;
}

export interface ToolFailure {
  ok: false;
  error: string;
  /** The scope forbade it (the ScopeViolation code is in `code`). */
  refused?: true;
  /** run_command only: the command is not allow-listed; a person may approve it. */
  needsApproval?: true;
  reason?: string;
  code?: string;
  [key: string]: Json | undefined;
}

export type Tool<A> = (workspace: Workspace, args: A, signal: AbortSignal) => Promise<ToolResult>;

/**
 * Turns what a tool throws into a result: scope refusals keep their code,
 * filesystem errors get a message naming the path. Only cancellation (the
 * caller's signal aborted) still throws, so the step stops instead of
 * feeding a result to a model nobody is waiting for.
 */
export function guarded<A>(tool: Tool<A>): Tool<A> {
  return async (workspace, args, signal) => {
    try {
      signal.throwIfAborted();
      return await tool(workspace, args, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof ScopeViolation) return { ok: false, refused: true, code: error.code, error: error.message };
      const path = typeof (args as { path?: unknown })?.path === "string" ? (args as { path: string }).path : undefined;
      return { ok: false, error: describeError(error, path) };
    }
  };
}

function describeError(error: unknown, path: string | undefined): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const name = path === undefined ? "the path" : `"${path}"`;
  switch (code) {
    case "ENOENT":
      return `${name} does not exist`;
    case "EISDIR":
      return `${name} is a directory`;
    case "ENOTDIR":
      return `a parent of ${name} is not a directory`;
    case "EACCES":
    case "EPERM":
      return `permission denied on ${name}`;
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
