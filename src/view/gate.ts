/**
 * A gate for review: where it is, how long it has waited, its question, and
 * its evidence, which for a plan gate is its plan review (src/view/planReview.ts:
 * every command whole, each agent's instructions and scope, waves, budget, risks).
 * `farcaster gates` prints these lines; the dashboard shows them in full.
 */
import { formatDuration } from "../core/duration.ts";
import type { GateRecord } from "../store/types.ts";
import type { Line } from "./text.ts";
import { isPlanReview, planReviewLines } from "./planReview.ts";
import { oneLine } from "./task.ts";

/** Where a gate is: the run's task that asks, or the schedule it holds. */
export function gateSubject(gate: GateRecord): string {
  return gate.scheduleName !== null ? `schedule ${gate.scheduleName}` : `${gate.runId}/${gate.taskKey ?? "-"}`;
}

/** A gate's state in words: how long it has waited, or who decided what, when and why. */
export function gateStatus(gate: GateRecord, now: number): string {
  if (gate.state === "pending") return `waiting ${formatDuration(now - gate.createdAt)}`;
  const by = gate.decidedBy ? ` by ${gate.decidedBy}` : "";
  const when = gate.decidedAt ? ` at ${new Date(gate.decidedAt).toISOString()}` : "";
  const action = gate.state === "rejected" && gate.action ? ` (${gate.action === "retry" ? "retry with feedback" : "fail"})` : "";
  const reason = gate.reason ? `: ${gate.reason}` : "";
  return `${gate.state}${by}${when}${action}${reason}`;
}

/** Evidence as text: a string as it is, anything else as pretty JSON; cut to `max` characters when given. */
export function evidenceText(value: unknown, max = Infinity): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value, null, 2) ?? "null");
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** The task inputs `farcaster plan` lists, one line each. */
export interface PlanTask {
  id: string;
  title: string;
  workflow: string;
  input: unknown;
  after: readonly string[];
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

/** The review of any gate: its question, then its evidence (the plan, or the evidence as text). */
export function gateReviewLines(gate: GateRecord): Line[] {
  const lines: Line[] = [[{ text: gate.question, style: "bold" }], []];
  if (isPlanReview(gate.evidence)) lines.push(...planReviewLines(gate.evidence));
  else if (gate.evidence !== null && gate.evidence !== undefined) {
    lines.push([{ text: "evidence", style: "dim" }]);
    for (const line of evidenceText(gate.evidence).split("\n")) lines.push([{ text: line }]);
  } else lines.push([{ text: "no evidence attached", style: "dim" }]);
  return lines;
}
