/**
 * Reading goal files. A goal file may carry its own plan, so the main job
 * works without any model:
 *   - a `.json` file holding a workplan;
 *   - a Markdown file with a fenced ```json block holding a workplan;
 *   - the Markdown workplan format: every `## <id>: <title>` heading is a task,
 *     field lines at the start of its body set its fields, the rest is its
 *     description, and the text above the first `##` is the goal. Field names
 *     are lowercase and matched exactly; a line at the start of the body that
 *     looks like a field but names none is an error (a typo must not turn a
 *     dependency into description); a blank line ends the fields.
 * Without a plan, the file's text is the goal for the Architect.
 * Files are read through safeRead.ts: regular files only, at most
 * LIMITS.goalFileBytes, asynchronously, optionally only under given roots.
 */
import { InputError, type PlanIssue } from "../core/errors.ts";
import { NUL_PROBLEM } from "../core/text.ts";
import { LIMITS } from "../core/limits.ts";
import { readTextFile, type ReadOptions } from "./safeRead.ts";
import { nearest } from "../core/nearest.ts";
import { contentHash } from "../core/hash.ts";

export type PlanSource = "json-file" | "json-block" | "markdown";

export interface GoalFile {
  path: string;
  goal: string;
  /** The plan the file carries (not yet validated), or null when the Architect must plan. */
  plan: unknown | null;
  planSource: PlanSource | null;
  /** Line of each task's heading (Markdown format), to point problems at the file. */
  taskLines: number[];
  /** For each task (Markdown format), the line of the field that set each of its plan's keys (`timeout: 0` → timeout). */
  fieldLines?: Record<string, number>[];
  /** Problems of the Markdown format itself, each with its line; checked together with the plan's. */
  problems: PlanIssue[];
  /** sha256 of the text it was read from: a run remembers it, to tell when the file changed. */
  hash?: string;
}

/** A line that looks like a field: one word, a colon, then anything. */
const FIELD_LIKE = /^([A-Za-z][\w-]*):(?:\s+(.*))?$/;
export const GOAL_FILE_FIELDS = Object.freeze(["after", "run", "gate", "agent", "workflow", "input", "retries", "timeout", "writes", "priority", "commands"] as const);
const FIELDS = new Set<string>(GOAL_FILE_FIELDS);
const HEADING = /^##\s+(.*)$/;

/** A workplan JSON file's data, unvalidated (checkPlan validates it with the workflows in view). */
export async function readPlanFile(path: string, options: ReadOptions = {}): Promise<unknown> {
  const text = await readTextFile(path, "plan file", "a workplan JSON file", { maxBytes: LIMITS.workplanBytes, ...options });
  if (text.trim() === "") throw new InputError(`plan file ${path} is empty; it should hold a workplan: {"goal": "...", "tasks": [...]}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`plan file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export async function readGoalFile(path: string, options: ReadOptions = {}): Promise<GoalFile> {
  const maxBytes = isJsonPath(path) ? LIMITS.workplanBytes : LIMITS.goalFileBytes;
  const text = await readTextFile(path, "goal file", "a Markdown goal (goal.md) or a workplan JSON file", { maxBytes, ...options });
  if (text.trim() === "") throw new InputError(`goal file ${path} is empty; write the goal in it (and, optionally, a plan: see README "Goal files")`);
  return { ...parseGoalText(text, path), hash: contentHash(text) };
}

function isJsonPath(path: string): boolean {
  return path.toLowerCase().endsWith(".json");
}

export function parseGoalText(text: string, path = "goal.md"): GoalFile {
  // A JSON file cannot hold a raw NUL (JSON.parse says so), and an escaped one meets the workplan's checks.
  const nul = text.indexOf("\u0000");
  if (nul !== -1 && !isJsonPath(path)) throw new InputError(`${path} line ${text.slice(0, nul).split("\n").length}: ${NUL_PROBLEM}`);
  if (isJsonPath(path)) {
    const plan = parseJson(text, path, 1) as { goal?: unknown } | null;
    return { path, goal: typeof plan?.goal === "string" ? plan.goal : "", plan, planSource: "json-file", taskLines: [], problems: [] };
  }
  const fence = /^```json\s*\n([\s\S]*?)^```\s*$/m.exec(text);
  if (fence) {
    const line = text.slice(0, fence.index).split("\n").length + 1;
    const plan = parseJson(fence[1]!, path, line) as Record<string, unknown>;
    const prose = (text.slice(0, fence.index) + text.slice(fence.index + fence[0].length)).trim();
    if (plan && typeof plan === "object" && !Array.isArray(plan) && plan.goal === undefined && prose) plan.goal = prose;
    return { path, goal: typeof plan?.goal === "string" ? plan.goal : prose, plan, planSource: "json-block", taskLines: [], problems: [] };
  }
  const lines = text.split("\n");
  const first = lines.findIndex((line) => HEADING.test(line));
  if (first === -1) return { path, goal: text.trim(), plan: null, planSource: null, taskLines: [], problems: [] };
  const goal = lines.slice(0, first).join("\n").trim().replace(/^#\s+/, "");
  return parseMarkdownPlan(lines, first, goal, path);
}

function parseJson(text: string, path: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${path}: the JSON plan starting at line ${line} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseMarkdownPlan(lines: string[], first: number, goal: string, path: string): GoalFile {
  const tasks: Record<string, unknown>[] = [];
  const taskLines: number[] = [];
  const fieldLines: Record<string, number>[] = [];
  const problems: PlanIssue[] = [];
  const problem = (line: number, message: string) => problems.push({ path: `${path} line ${line}`, message });
  let index = first;
  while (index < lines.length) {
    const headingLine = index + 1;
    const heading = HEADING.exec(lines[index]!)![1]!.trim();
    const bodyStart = index + 1;
    let end = bodyStart;
    while (end < lines.length && !HEADING.test(lines[end]!)) end++;
    const body = lines.slice(bodyStart, end);
    index = end;
    const match = /^([^:\s]+)\s*:\s*(.+)$/.exec(heading);
    if (!match) {
      problem(headingLine, `a task heading is "## <id>: <title>" (got "## ${heading}")`);
      continue;
    }
    const task: Record<string, unknown> = { id: match[1], title: match[2]!.trim() };
    const lineOf: Record<string, number> = {};
    const kinds: string[] = [];
    let cursor = 0;
    while (cursor < body.length && body[cursor]!.trim() === "") cursor++;
    for (; cursor < body.length; cursor++) {
      const field = FIELD_LIKE.exec(body[cursor]!.trim());
      if (!field) break; // the description starts here (a blank line, or prose)
      const [, name, value = ""] = field;
      const lineNo = bodyStart + cursor + 1;
      if (!FIELDS.has(name!)) {
        const guess = nearest(name!, GOAL_FILE_FIELDS);
        problem(lineNo, `unknown field \`${name}\` in task "${task.id}"${guess ? ` — did you mean \`${guess}\`?` : ""} (fields are lowercase: ${GOAL_FILE_FIELDS.join(", ")}; if this line begins the description, put a blank line before it)`);
        continue;
      }
      // What this line sets, by its path in the task: `commands:` sets scope.commands in the scope `writes:` made.
      const trouble = applyField(task, name!, value.trim(), kinds, (...paths) => paths.forEach((path) => (lineOf[path] = lineNo)));
      if (trouble) problem(lineNo, `task "${task.id}": ${trouble}`);
    }
    if (kinds.length === 0) problem(headingLine, `task "${task.id}": say what runs it with run:, gate:, agent: or workflow:`);
    if (kinds.length > 1) problem(headingLine, `task "${task.id}": set only one of run:, gate:, agent:, workflow: (found ${kinds.join(", ")})`);
    const description = body.slice(cursor).join("\n").trim();
    if (description) task.description = description;
    tasks.push(task);
    taskLines.push(headingLine);
    fieldLines.push(lineOf);
  }
  return { path, goal, plan: { version: 1, goal, tasks }, planSource: "markdown", taskLines, fieldLines, problems };
}

function list(value: string): string[] {
  return value.split(",").map((item) => item.trim()).filter(Boolean);
}

/** `run:`, `gate:` and `agent:` lines: the workflow they stand for and the input field their text fills. */
const SHORTHANDS = { run: ["shell", "command"], gate: ["review", "question"], agent: ["agent", "instructions"] } as const;

/** Sets one field, telling `sets` the paths in the task it set; returns a problem to report, if any. */
function applyField(task: Record<string, unknown>, name: string, value: string, kinds: string[], sets: (...paths: string[]) => void): string | undefined {
  const scope = () => (task.scope ??= {}) as { writes?: string[]; commands?: string[] };
  switch (name) {
    case "after":
      task.after = list(value);
      sets("after");
      return;
    case "run":
    case "gate":
    case "agent": {
      const [workflow, field] = SHORTHANDS[name];
      kinds.push(`${name}:`);
      task.workflow = workflow;
      task.input = { [field]: value };
      sets("workflow", "input");
      return;
    }
    case "workflow":
      kinds.push("workflow:");
      task.workflow = value;
      sets("workflow");
      if (task.input === undefined) {
        task.input = {};
        sets("input");
      }
      return;
    case "input":
      try {
        task.input = JSON.parse(value);
      } catch (error) {
        return `input: is not valid JSON (${(error as Error).message}); write it on one line, e.g. input: {"n": 1}`;
      }
      sets("input");
      return;
    case "retries":
    case "priority":
      // A number goes to the workplan's check as one (its range and wholeness are said once, there); anything else as written.
      task[name] = /^[+-]?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      sets(name);
      return;
    case "timeout":
      task.timeout = value;
      sets("timeout");
      return;
    case "writes":
      scope().writes = list(value);
      sets("scope", "scope.writes");
      return;
    case "commands":
      scope().commands = list(value);
      sets("scope", "scope.commands");
      return;
  }
}

/** Points plan problems at the Markdown lines of their tasks. */
export function locateIssues(file: GoalFile, issues: readonly PlanIssue[]): PlanIssue[] {
  return issues.map((issue) => {
    // The line of the field that set it (tasks[0].timeout: its `timeout:` line), else the task's heading.
    const match = /^tasks\[(\d+)\](?:\.(\w+)(?:\.(\w+))?)?/.exec(issue.path);
    const index = Number(match?.[1]);
    const lines = file.fieldLines?.[index];
    const field = match?.[2] ? (match[3] ? lines?.[`${match[2]}.${match[3]}`] : undefined) ?? lines?.[match[2]] : undefined;
    const line = match ? (field ?? file.taskLines[index]) : undefined;
    return line ? { ...issue, path: `${issue.path} (${file.path} line ${line})` } : issue;
  });
}
