/**
 * The workplan: the one definition of a run's DAG, used by the planner, the
 * store, the API and the docs. `validateWorkplan` reports every problem at
 * once, each with the path of the field (`tasks[3].after[0]`), and checks the
 * graph: duplicate ids, unknown and self dependencies, cycles (with their path).
 */
import { z } from "zod";
import { MAX_DURATION_TEXT, parseDuration } from "./duration.ts";
import { PlanInvalidError, type PlanIssue } from "./errors.ts";
import { deepMessage, jsonLimitProblem, largeMessage, LIMITS, nestedDeeperThan, NON_FINITE_PROBLEM, nonFiniteNumberPath } from "./limits.ts";
import { text } from "./text.ts";

export const WORKPLAN_VERSION = 1;

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const duration = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as 30000, "30s", "5m" or "2h", at most ${MAX_DURATION_TEXT}; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (ms === 0) {
      // A zero timeout fails every attempt as it starts.
      ctx.addIssue({ code: "custom", message: `expected a duration longer than 0, such as "30s" or "5m" (leave it out for none); got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });

export const TaskScopeSchema = z
  .object({
    writes: z.array(z.string().min(1)).default([]).describe("globs (relative to the run's working directory) the task may write"),
    commands: z.array(z.string().min(1)).default([]).describe("command patterns the task may run without a gate"),
  })
  .strict();

/** A whole number in [min, max], one message for every way to miss (a fraction, too small, too big, not a number). */
function wholeIn(min: number, max: number) {
  const problem = `must be a whole number from ${min} to ${max}`;
  return z.number(problem).int(problem).min(min, problem).max(max, problem);
}

export const TaskSpecSchema = z
  .object({
    id: z
      .string()
      .regex(TASK_ID, "a task id is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
      .describe("unique within the plan; other tasks name it in `after`"),
    title: text().min(1, "a task needs a title"),
    description: text().optional(),
    workflow: z.string().min(1, "name the workflow that runs this task (for example shell, review, agent)"),
    input: z.unknown().default({}).describe("the workflow's input; checked against its schema"),
    after: z.array(z.string()).default([]).describe("ids of tasks that must succeed first"),
    retries: wholeIn(0, 100).optional().describe("extra attempts after a failure (default 0)"),
    timeout: duration.optional().describe("wall time per attempt"),
    priority: wholeIn(-1000, 1000).optional().describe("higher runs first among ready tasks (default 0)"),
    scope: TaskScopeSchema.optional(),
  })
  .strict();

/** What the run's agents may spend together (each agent task may also have its own budget). */
export const RunBudgetSchema = z
  .object({
    turns: z.number().int().min(1).optional(),
    inputTokens: z.number().int().min(1).optional(),
    outputTokens: z.number().int().min(1).optional(),
    costUsd: z.number().positive().optional(),
  })
  .strict();

export type RunBudget = z.output<typeof RunBudgetSchema>;

export const WorkplanSchema = z
  .object({
    version: z.literal(WORKPLAN_VERSION).default(WORKPLAN_VERSION),
    goal: text().min(1, "state the goal the plan achieves"),
    budget: RunBudgetSchema.optional().describe("model usage the run's agent tasks may spend together"),
    tasks: z.array(TaskSpecSchema).min(1, "a workplan needs at least one task"),
  })
  .strict();

export type TaskSpec = z.output<typeof TaskSpecSchema>;
export type Workplan = z.output<typeof WorkplanSchema>;
export type WorkplanInput = z.input<typeof WorkplanSchema>;

/** A workplan that passed every check, with its waves (tasks that can run in parallel). */
export interface ValidWorkplan {
  plan: Workplan;
  waves: string[][];
}

export type ValidationResult = { ok: true; value: ValidWorkplan } | { ok: false; issues: PlanIssue[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, 12).join(", ");
  return ids.length > 12 ? `${shown}, … (${ids.length} in all)` : shown || "(none)";
}

/**
 * A plan over the limits (LIMITS in limits.ts) is refused before anything
 * else looks at it: schema and graph checks on a 50,000-level input would
 * only recurse, and the store's JSON.stringify would overflow the stack.
 * Task inputs are the only free-form values of a plan, so they are checked
 * one by one and named; then every other field's depth, each named by its
 * path; then the whole plan's size.
 */
export function planLimitIssues(input: unknown): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const tasks = (input as { tasks?: unknown } | null)?.tasks;
  if (Array.isArray(tasks)) {
    tasks.forEach((task, index) => {
      if (task === null || typeof task !== "object" || !("input" in task)) return;
      const input = (task as { input: unknown }).input;
      const problem = jsonLimitProblem(input, LIMITS.taskInputBytes);
      if (problem) return void issues.push({ path: `tasks[${index}].input`, message: problem.problem });
      const infinite = nonFiniteNumberPath(input);
      if (infinite !== null) issues.push({ path: `tasks[${index}].input${infinite}`, message: `this ${NON_FINITE_PROBLEM}` });
    });
  }
  if (issues.length > 0) return issues;
  issues.push(...fieldDepthIssues(input));
  if (issues.length > 0) return issues;
  let bytes = 0;
  try {
    bytes = Buffer.byteLength(JSON.stringify(input) ?? "");
  } catch {
    return []; // not JSON (a cycle, a BigInt, from code): the schema says what is wrong
  }
  if (bytes > LIMITS.workplanBytes) return [{ path: "", message: `the plan is ${largeMessage(bytes, LIMITS.workplanBytes)}` }];
  return [];
}

/**
 * Every other field of the plan and of its tasks (scope, budget, a key the schema would refuse)
 * checked for depth on its own and named by its path, with the same limit as an input: the schema
 * would recurse into it before saying anything.
 */
function fieldDepthIssues(input: unknown): PlanIssue[] {
  if (input === null || typeof input !== "object") return [];
  if (Array.isArray(input)) return nestedDeeperThan(input, LIMITS.depth) ? [{ path: "", message: `the plan is ${deepMessage(LIMITS.depth)}` }] : [];
  const issues: PlanIssue[] = [];
  // The path is built only for a field that is too deep: a plan's fields are mostly fine, 60,000 tasks of them.
  const deep = (path: () => string, value: unknown) => {
    if (nestedDeeperThan(value, LIMITS.depth)) issues.push({ path: path(), message: deepMessage(LIMITS.depth) });
  };
  for (const [key, value] of Object.entries(input)) {
    if (key !== "tasks" || !Array.isArray(value)) {
      deep(() => key, value);
      continue;
    }
    value.forEach((task, index) => {
      if (task === null || typeof task !== "object" || Array.isArray(task)) return deep(() => `tasks[${index}]`, task);
      for (const field of Object.keys(task)) if (field !== "input") deep(() => `tasks[${index}].${field}`, (task as Record<string, unknown>)[field]);
    });
  }
  return issues;
}

export function validateWorkplan(input: unknown): ValidationResult {
  const limits = planLimitIssues(input);
  if (limits.length > 0) return { ok: false, issues: limits };
  return validateWorkplanShape(input);
}

/** validateWorkplan for a plan whose limits the caller has checked already (checkPlan): each check walks and stringifies the whole plan. */
export function validateWorkplanShape(input: unknown): ValidationResult {
  const parsed = WorkplanSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
    // Graph problems are worth reporting even when some field is malformed.
    issues.push(...graphIssuesOfRaw(input));
    return { ok: false, issues };
  }
  const plan = parsed.data;
  const issues = graphIssues(plan.tasks);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { plan, waves: computeWaves(plan.tasks) } };
}

/** Throws PlanInvalidError naming every problem; `source` names the file it came from. */
export function parseWorkplan(input: unknown, source?: string): ValidWorkplan {
  const result = validateWorkplan(input);
  if (!result.ok) throw new PlanInvalidError(result.issues, source);
  return result.value;
}

interface GraphNode {
  id: string;
  after: string[];
}

function graphIssuesOfRaw(input: unknown): PlanIssue[] {
  const tasks = (input as { tasks?: unknown })?.tasks;
  if (!Array.isArray(tasks)) return [];
  const nodes: GraphNode[] = [];
  for (const task of tasks) {
    const id = (task as { id?: unknown })?.id;
    const after = (task as { after?: unknown })?.after ?? [];
    if (typeof id !== "string" || !Array.isArray(after) || !after.every((a) => typeof a === "string")) return [];
    nodes.push({ id, after: after as string[] });
  }
  return graphIssues(nodes);
}

function graphIssues(tasks: readonly GraphNode[]): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const firstIndex = new Map<string, number>();
  tasks.forEach((task, index) => {
    const seen = firstIndex.get(task.id);
    if (seen !== undefined) {
      issues.push({ path: `tasks[${index}].id`, message: `duplicate task id "${task.id}" (also tasks[${seen}]); ids must be unique` });
    } else {
      firstIndex.set(task.id, index);
    }
  });
  const known = [...firstIndex.keys()];
  tasks.forEach((task, index) => {
    const seenDeps = new Set<string>();
    task.after.forEach((dep, depIndex) => {
      const path = `tasks[${index}].after[${depIndex}]`;
      if (dep === task.id) issues.push({ path, message: `task "${task.id}" depends on itself; remove it from its own \`after\`` });
      else if (!firstIndex.has(dep)) issues.push({ path, message: `unknown task "${dep}"; known ids: ${listIds(known)}` });
      else if (seenDeps.has(dep)) issues.push({ path, message: `"${dep}" is listed twice in \`after\` of task "${task.id}"` });
      seenDeps.add(dep);
    });
  });
  for (const cycle of findCycles(tasks)) {
    const index = firstIndex.get(cycle[0]!)!;
    issues.push({ path: `tasks[${index}].after`, message: `dependency cycle: ${cycle.join(" -> ")}; break it by removing one of these dependencies` });
  }
  return issues;
}

/** Every elementary cycle found by a DFS, each as a path that ends where it starts. */
function findCycles(tasks: readonly GraphNode[]): string[][] {
  const edges = new Map<string, readonly string[]>();
  for (const task of tasks) if (!edges.has(task.id)) edges.set(task.id, task.after); // a task's own id in it is skipped below
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  const stack: string[] = [];
  const cycles: string[][] = [];
  let order: Map<string, number> | undefined; // plan positions, wanted only to print a cycle
  // Iterative DFS: a model-written plan can be deep enough to overflow recursion.
  for (const [root, rootDeps] of edges) {
    if (state.has(root)) continue;
    if (rootDeps.length === 0) {
      state.set(root, 2); // nothing to follow: most tasks of a wide plan
      continue;
    }
    const frames: { id: string; next: number }[] = [{ id: root, next: 0 }];
    state.set(root, 1);
    stack.push(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const deps = edges.get(frame.id) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (dep === frame.id || !edges.has(dep)) continue; // depending on itself is reported apart
        const depState = state.get(dep);
        if (depState === 1) {
          // `after` points at what runs first, so reverse to read in execution order.
          const cycle = stack.slice(stack.indexOf(dep)).reverse();
          // Start the path at the task that comes first in the plan, so the message is stable.
          order ??= new Map([...edges.keys()].map((id, index) => [id, index]));
          const positions = order;
          const first = cycle.reduce((best, id, i) => (positions.get(id)! < positions.get(cycle[best]!)! ? i : best), 0);
          const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
          cycles.push([...rotated, rotated[0]!]);
        } else if (depState === undefined) {
          state.set(dep, 1);
          stack.push(dep);
          frames.push({ id: dep, next: 0 });
        }
      } else {
        state.set(frame.id, 2);
        stack.pop();
        frames.pop();
      }
    }
  }
  return cycles;
}

/** Kahn's algorithm in levels: wave k holds the tasks whose longest dependency chain has length k. */
export function computeWaves(tasks: readonly GraphNode[]): string[][] {
  const level = new Map<string, number>();
  const pending = new Map(tasks.map((task) => [task.id, task.after.length]));
  const dependents = new Map<string, string[]>();
  for (const task of tasks) {
    for (const dep of task.after) {
      const list = dependents.get(dep);
      if (list) list.push(task.id);
      else dependents.set(dep, [task.id]);
    }
  }
  let frontier = tasks.filter((task) => task.after.length === 0).map((task) => task.id);
  const waves: string[][] = [];
  while (frontier.length > 0) {
    waves.push(frontier);
    const next: string[] = [];
    for (const id of frontier) {
      level.set(id, waves.length - 1);
      for (const dependent of dependents.get(id) ?? []) {
        const left = pending.get(dependent)! - 1;
        pending.set(dependent, left);
        if (left === 0) next.push(dependent);
      }
    }
    frontier = next;
  }
  return waves;
}
