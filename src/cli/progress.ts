/** The run's summary when the main job ends: per task its state, attempts, time and model usage. */
import { formatDuration } from "../core/duration.ts";
import type { RunRecord, TaskRecord } from "../store/types.ts";
import { paint, paintState, type Output } from "./output.ts";

interface ModelUsage {
  turns: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Model usage an agent task reported in its output, if any. */
export function usageOf(task: TaskRecord): ModelUsage | null {
  const usage = (task.output as { usage?: ModelUsage } | null)?.usage;
  return usage && typeof usage.inputTokens === "number" ? usage : null;
}

function formatUsage(usage: ModelUsage): string {
  const cost = usage.costUsd > 0 ? ` $${usage.costUsd.toFixed(4)}` : "";
  return `${usage.turns} turns ${usage.inputTokens}+${usage.outputTokens} tok${cost}`;
}

export function printSummary(output: Output, run: RunRecord, tasks: readonly TaskRecord[]): void {
  output.out("");
  output.out(`${paint(output, "bold", `run ${run.id}`)} ${paintState(output, run.state)} in ${formatDuration((run.finishedAt ?? Date.now()) - run.createdAt)}`);
  const withUsage = tasks.some((task) => usageOf(task));
  const header = ["TASK", "STATE", "ATTEMPTS", "TIME", ...(withUsage ? ["MODEL USAGE"] : [])];
  const rows = tasks.map((task) => {
    const took = task.startedAt && task.finishedAt ? formatDuration(task.finishedAt - task.startedAt) : "-";
    const usage = usageOf(task);
    return { task, cells: [task.key, task.state, String(task.attempts), took, ...(withUsage ? [usage ? formatUsage(usage) : "-"] : [])] };
  });
  const widths = header.map(() => 0);
  for (const { cells } of [{ cells: header }, ...rows]) cells.forEach((c, i) => (widths[i] = Math.max(widths[i]!, c.length)));
  output.out(`  ${header.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()}`);
  for (const { task, cells } of rows) {
    const painted = cells.map((c, i) => (i === 1 ? paintState(output, c) + " ".repeat(widths[1]! - c.length) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)));
    output.out(`  ${painted.join("  ")}`);
    if (task.state === "failed" && task.error) output.out(`    ${paint(output, "red", task.error.message.split("\n").slice(0, 6).join("\n    "))}`);
  }
  if (withUsage) {
    const total = tasks.map(usageOf).filter((u): u is ModelUsage => u !== null).reduce((a, u) => ({ turns: a.turns + u.turns, inputTokens: a.inputTokens + u.inputTokens, outputTokens: a.outputTokens + u.outputTokens, costUsd: a.costUsd + u.costUsd }), { turns: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
    output.out(`  model usage in total: ${formatUsage(total)}`);
  }
}
