/**
 * What a person sees before a plan runs: every task with what it will do in
 * full (a command exactly as it will run, an agent's instructions and the
 * scope its tools enforce), the waves, the budget, and what carries risk.
 *
 * Risk: work a model wrote that acts on the machine, that is shell commands
 * and agent tasks. Such a plan is always held at a gate, `--yes` does not
 * approve it, and a schedule does not run it frozen until a person approved
 * exactly this plan (by its hash). Plain data: the gate keeps it as its
 * evidence, and the terminal, the dashboard and the API show it.
 */
import type { Workplan } from "../core/workplan.ts";
import type { Line } from "./text.ts";
import { contentHash } from "../core/hash.ts";

export type ReviewAction =
  | { kind: "command"; command: string; cwd?: string; env?: Record<string, string> }
  | { kind: "agent"; instructions: string; writes: string[]; commands: string[]; budget: unknown }
  | { kind: "gate"; question: string }
  | { kind: "input"; input: unknown };

export interface ReviewTask {
  id: string;
  title: string;
  workflow: string;
  after: string[];
  action: ReviewAction;
}

export interface PlanReview {
  goal: string;
  writtenBy: "model" | "goal file";
  tasks: ReviewTask[];
  waves: string[][];
  /** The run's budget and each agent task's own; null when nothing calls a model. */
  budget: { run: unknown; tasks: Record<string, unknown> } | null;
  /** What a person must look at before approving (empty: nothing a model wrote acts on the machine). */
  risks: string[];
  /** sha256 of the workplan reviewed: an approval holds for exactly this plan. */
  planHash: string;
}

export function planHash(plan: Workplan): string {
  return contentHash(JSON.stringify(plan));
}

function actionOf(task: Workplan["tasks"][number]): ReviewAction {
  const input = (task.input ?? {}) as Record<string, unknown>;
  if (task.workflow === "shell" && typeof input.command === "string") {
    const action: ReviewAction = { kind: "command", command: input.command };
    if (typeof input.cwd === "string") action.cwd = input.cwd;
    if (input.env && typeof input.env === "object") action.env = input.env as Record<string, string>;
    return action;
  }
  if (task.workflow === "agent") {
    return { kind: "agent", instructions: String(input.instructions ?? ""), writes: task.scope?.writes ?? [], commands: task.scope?.commands ?? [], budget: input.budget ?? { turns: 30 } };
  }
  if (task.workflow === "review" && typeof input.question === "string") return { kind: "gate", question: input.question };
  return { kind: "input", input: task.input ?? {} };
}

export function planReview(plan: Workplan, waves: string[][], writtenBy: PlanReview["writtenBy"]): PlanReview {
  const tasks = plan.tasks.map((task) => ({ id: task.id, title: task.title, workflow: task.workflow, after: [...task.after], action: actionOf(task) }));
  const agents = tasks.filter((task) => task.action.kind === "agent");
  const commands = tasks.filter((task) => task.action.kind === "command");
  const risks: string[] = [];
  if (writtenBy === "model") {
    if (commands.length > 0) risks.push(`${commands.length} shell command${commands.length === 1 ? "" : "s"} written by a model`);
    if (agents.length > 0) risks.push(`${agents.length} agent task${agents.length === 1 ? "" : "s"} written by a model, each with the scope shown`);
  }
  const budget = agents.length > 0 || plan.budget ? { run: plan.budget ?? null, tasks: Object.fromEntries(agents.map((task) => [task.id, (task.action as { budget: unknown }).budget])) } : null;
  return { goal: plan.goal, writtenBy, tasks, waves, budget, risks, planHash: planHash(plan) };
}

/** True when the evidence is a plan review (a plan gate). */
export function isPlanReview(value: unknown): value is PlanReview {
  const review = value as PlanReview | null;
  return typeof review === "object" && review !== null && Array.isArray(review.tasks) && Array.isArray(review.waves) && Array.isArray(review.risks);
}

/**
 * The review as lines, nothing cut: every command and every instruction in
 * full (renderers wrap, they do not clip). Styled segments, so the terminal,
 * `farcaster gates` and the dashboard show the same review.
 */
export function planReviewLines(review: PlanReview): Line[] {
  const lines: Line[] = [
    [{ text: "goal: ", style: "dim" }, { text: review.goal.split("\n")[0] ?? "" }],
    [{ text: `written by ${review.writtenBy}; ${review.tasks.length} tasks in ${review.waves.length} waves`, style: "dim" }],
  ];
  if (review.risks.length > 0) lines.push([{ text: "look before you approve: ", style: "yellow" }, { text: review.risks.join("; ") }]);
  for (const task of review.tasks) {
    const after = task.after.length > 0 ? `  after ${task.after.join(", ")}` : "";
    lines.push([{ text: task.id, style: "bold" }, { text: `: ${task.title}  [${task.workflow}]${after}` }]);
    const action = task.action;
    if (action.kind === "command") {
      lines.push([{ text: "    $ ", style: "dim" }, { text: action.command }]);
      if (action.cwd) lines.push([{ text: "    in ", style: "dim" }, { text: action.cwd }]);
      if (action.env) lines.push([{ text: "    env ", style: "dim" }, { text: JSON.stringify(action.env) }]);
    } else if (action.kind === "agent") {
      for (const line of action.instructions.split("\n")) lines.push([{ text: "    | ", style: "dim" }, { text: line }]);
      lines.push([{ text: "    may write: ", style: "yellow" }, { text: action.writes.join(", ") || "(nothing)" }]);
      lines.push([{ text: "    may run: ", style: "yellow" }, { text: action.commands.join(", ") || "(no commands without asking)" }]);
      lines.push([{ text: "    budget: ", style: "dim" }, { text: JSON.stringify(action.budget) }]);
    } else if (action.kind === "gate") lines.push([{ text: "    asks: ", style: "dim" }, { text: action.question }]);
    else lines.push([{ text: "    input: ", style: "dim" }, { text: JSON.stringify(action.input) }]);
  }
  review.waves.forEach((wave, i) => lines.push([{ text: `wave ${i + 1}: `, style: "dim" }, { text: wave.join(", ") }]));
  if (review.budget) lines.push([{ text: "model budget: ", style: "dim" }, { text: `run ${JSON.stringify(review.budget.run)}; tasks ${JSON.stringify(review.budget.tasks)}` }]);
  return lines;
}
