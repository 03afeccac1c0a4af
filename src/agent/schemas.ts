/**
 * The agent's tools as the model sees them: names, descriptions, argument
 * schemas (zod 4, for the AI SDK's `tool({ inputSchema })`). The results'
 * shape is in result.ts.
 */
import { z } from "zod";

export const TOOL_NAMES = ["read_file", "list_files", "search_files", "write_file", "edit_file", "run_command", "finish"] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const path = z.string().describe("relative to the workspace root");

export const ReadFileArgs = z.object({
  path,
  offset: z.number().int().min(1).optional().describe("first line to return, 1-based (default 1)"),
  limit: z.number().int().min(1).optional().describe("most lines to return (default: as many as fit in 64 KB)"),
});

export const ListFilesArgs = z.object({
  path: path.optional().describe("directory to list, relative to the workspace root (default: the root)"),
  glob: z.string().optional().describe('only files matching this glob, relative to `path` (e.g. "**/*.ts")'),
});

export const SearchFilesArgs = z.object({
  pattern: z.string().min(1).describe("text to find (or a JavaScript regular expression when regex is true)"),
  regex: z.boolean().optional().describe("treat pattern as a regular expression (default false: plain text)"),
  ignoreCase: z.boolean().optional(),
  path: path.optional().describe("directory or file to search (default: the whole workspace)"),
  glob: z.string().optional().describe('only files matching this glob, relative to `path` (e.g. "src/**/*.ts")'),
});

export const WriteFileArgs = z.object({
  path,
  content: z.string().describe("the whole new content of the file"),
});

export const EditFileArgs = z.object({
  path,
  old: z.string().min(1).describe("exact text to replace; must occur exactly once in the file (include surrounding lines to make it unique)"),
  new: z.string().describe("replacement text"),
});

export const RunCommandArgs = z.object({
  command: z.string().min(1).describe("one shell command line, run with sh -c in the workspace root"),
  timeoutMs: z.number().int().min(1).max(600_000).optional().describe("kill it after this long (default 120000, at most 600000)"),
});

export const FinishArgs = z.object({
  summary: z.string().min(1).describe("what was done, for the people reading the run"),
  output: z.unknown().optional().describe("the task's result as JSON, if it has one"),
});

export const TOOL_SCHEMAS = {
  read_file: ReadFileArgs,
  list_files: ListFilesArgs,
  search_files: SearchFilesArgs,
  write_file: WriteFileArgs,
  edit_file: EditFileArgs,
  run_command: RunCommandArgs,
  finish: FinishArgs,
} as const satisfies Record<ToolName, z.ZodType>;

export type ToolArgs<N extends ToolName> = z.output<(typeof TOOL_SCHEMAS)[N]>;

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  read_file: "Read a text file in the workspace, by lines. Long files come back in pieces of at most 64 KB; the result says where to continue.",
  list_files: "List files under a directory of the workspace (recursively; node_modules, .git and .farcaster are skipped).",
  search_files: "Search file contents in the workspace for text or a regular expression; returns path:line:text matches.",
  write_file: "Create or overwrite a file (parent directories are created). Only paths in this task's write scope are allowed.",
  edit_file: "Replace one exact, unique occurrence of `old` with `new` in a file. Only paths in this task's write scope are allowed.",
  run_command:
    "Run a shell command in the workspace root. Commands outside this task's allow-list are not run: they need a person's approval. Returns the exit code and the tails of stdout and stderr.",
  finish: "End the task: give a summary of what was done and, if the task has one, its output.",
};
