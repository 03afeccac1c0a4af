/**
 * A gate for review: where it is, how long it has waited, its question, and
 * its evidence, which for a plan gate is the plan itself (every task with
 * its input, so every command; each agent's scope; the waves; the budget).
 * `farcaster gates` prints these lines; the dashboard shows them in full.
 */
import type { GateRecord } from "../store/types.ts";
import type { Line } from "./text.ts";
import { oneLine } from "./task.ts";

export interface PlanTask {
  id: string;
  title: string;
  workflow: string;
  input: unknown;
  after: readonly string[];
  scope?: { writes?: readonly string[]; commands?: readonly string[] } | null;
}

/** What a plan gate (the Architect's) carries as evidence. */
export interface PlanEvidence {
  goal?: string;
  writtenBy?: string;
  tasks: PlanTask[];
  waves: string[][];
  budget?: unknown;
}

export function planEvidence(evidence: unknown): PlanEvidence | null {
  const plan = evidence as Partial<PlanEvidence> | null;
  return plan && typeof plan === "object" && Array.isArray(plan.waves) && Array.isArray(plan.tasks) ? (plan as PlanEvidence) : null;
}

/** Evidence as text: a string as it is, anything else as pretty JSON; cut to `max` characters when given. */
export function evidenceText(value: unknown, max = Infinity): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value, null, 2) ?? "null");
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** One line per task (id, title, workflow, input, dependencies), then one per wave. */
export function planTaskLines(tasks: readonly PlanTask[], waves: readonly string[][], inputMax = Infinity): Line[] {
  const lines: Line[] = tasks.map((task) => {
    const input = oneLine(task.input);
    const after = task.after.length > 0 ? `  after ${task.after.join(", ")}` : "";
    return [{ text: task.id, style: "bold" }, { text: `: ${task.title}  [${task.workflow}] ${input.length > inputMax ? input.slice(0, inputMax - 1) + "…" : input}${after}` }];
  });
  waves.forEach((wave, i) => lines.push([{ text: `wave ${i + 1}: ${wave.join(", ")}` }]));
  return lines;
}

/**
 * The whole plan for a person to approve: per task its workflow and
 * dependencies, each field of its input on a line of its own (a command is
 * read whole), its scope; then the waves and the budget. Lines are not cut:
 * the renderer wraps them.
 */
export function planReviewLines(plan: PlanEvidence): Line[] {
  const lines: Line[] = [];
  if (plan.goal) lines.push([{ text: "goal: ", style: "dim" }, { text: plan.goal }]);
  if (plan.writtenBy) lines.push([{ text: "written by: ", style: "dim" }, { text: plan.writtenBy }]);
  lines.push([{ text: `${plan.tasks.length} tasks in ${plan.waves.length} waves`, style: "dim" }], []);
  for (const task of plan.tasks) {
    const after = task.after.length > 0 ? `  after ${task.after.join(", ")}` : "";
    lines.push([{ text: task.id, style: "bold" }, { text: `  [${task.workflow}]  ${task.title}${after}` }]);
    const input = task.input;
    if (input && typeof input === "object" && !Array.isArray(input)) {
      for (const [name, value] of Object.entries(input)) lines.push([{ text: `    ${name}: `, style: "dim" }, { text: typeof value === "string" ? value : oneLine(value) }]);
    } else if (input !== undefined) lines.push([{ text: "    input: ", style: "dim" }, { text: oneLine(input) }]);
    if (task.scope) {
      const writes = task.scope.writes?.length ? task.scope.writes.join(", ") : "nothing";
      const commands = task.scope.commands?.length ? task.scope.commands.join(", ") : "none without a gate";
      lines.push([{ text: "    scope: ", style: "yellow" }, { text: `writes ${writes}; runs ${commands}` }]);
    }
  }
  lines.push([]);
  plan.waves.forEach((wave, i) => lines.push([{ text: `wave ${i + 1}: `, style: "dim" }, { text: wave.join(", ") }]));
  if (plan.budget !== undefined && plan.budget !== null) {
    lines.push([], [{ text: "model budget", style: "bold" }]);
    for (const line of evidenceText(plan.budget).split("\n")) lines.push([{ text: `  ${line}` }]);
  }
  return lines;
}

/** The review of any gate: its question, then its evidence (the plan, or the evidence as text). */
export function gateReviewLines(gate: GateRecord): Line[] {
  const lines: Line[] = [[{ text: gate.question, style: "bold" }], []];
  const plan = planEvidence(gate.evidence);
  if (plan) lines.push(...planReviewLines(plan));
  else if (gate.evidence !== null && gate.evidence !== undefined) {
    lines.push([{ text: "evidence", style: "dim" }]);
    for (const line of evidenceText(gate.evidence).split("\n")) lines.push([{ text: line }]);
  } else lines.push([{ text: "no evidence attached", style: "dim" }]);
  return lines;
}
