/**
 * Showing a run while it works. On a terminal: a compact live view redrawn in
 * place (tasks by state, running tasks with their drone and elapsed time, the
 * last events). Elsewhere: one plain line per event, never an escape code.
 */
import { formatDuration } from "../core/duration.ts";
import type { EventRecord, RunRecord, TaskRecord } from "../store/types.ts";
import { paint, paintState, type Output } from "./output.ts";

const ORDER = ["succeeded", "running", "waiting", "ready", "blocked", "failed", "skipped", "cancelled"] as const;

export function describeEvent(event: EventRecord, keys: Map<number, string>): string {
  const task = event.taskId === null ? "" : (keys.get(event.taskId) ?? `#${event.taskId}`);
  const data = (event.data ?? {}) as Record<string, unknown>;
  switch (event.type) {
    case "run.created":
      return "run created";
    case "run.planned":
      return `planned ${data.tasks} tasks`;
    case "task.started":
      return `started ${task} (${event.actor}${Number(data.attempt) > 1 ? `, attempt ${data.attempt}` : ""})`;
    case "task.succeeded":
      return `succeeded ${task}`;
    case "task.retry_scheduled":
      return `failed ${task}, will retry: ${String(data.error).split("\n")[0]}`;
    case "task.failed":
      return `FAILED ${task} (${data.reason}): ${String(data.error).split("\n")[0]}${Array.isArray(data.skipped) && data.skipped.length ? `; skipped ${data.skipped.join(", ")}` : ""}`;
    case "task.waiting":
      return `${task} waits: ${data.reason}`;
    case "task.lease_expired":
      return `${task}: drone ${data.owner} stopped heartbeating; task reclaimed`;
    case "task.released":
      return `released ${task}`;
    case "gate.opened":
      return `gate ${data.gate} (${task}): ${data.question}`;
    case "gate.approved":
      return `gate ${data.gate} approved by ${event.actor}`;
    case "gate.rejected":
      return `gate ${data.gate} rejected by ${event.actor}: ${data.reason}`;
    default:
      return `${event.type}${task ? ` ${task}` : ""}`;
  }
}

export function countByState(tasks: readonly TaskRecord[]): string {
  const counts = new Map<string, number>();
  for (const task of tasks) if (!task.key.startsWith("@")) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  return ORDER.filter((state) => counts.has(state)).map((state) => `${counts.get(state)} ${state}`).join(" · ") || "no tasks yet";
}

export function liveView(output: Output, run: RunRecord, tasks: readonly TaskRecord[], recent: readonly string[], now: number, startedAt: ReadonlyMap<number, number>): string[] {
  const lines = [`${paint(output, "bold", `run ${run.id}`)}  ${paintState(output, run.state)}  ${countByState(tasks)}  ${formatDuration(now - run.createdAt)}`];
  for (const task of tasks.filter((t) => t.state === "running")) {
    lines.push(`  ${paint(output, "cyan", "▸")} ${task.key.padEnd(20)} ${(task.leaseOwner ?? "").padEnd(24)} ${formatDuration(now - (startedAt.get(task.id) ?? now))}`);
  }
  for (const task of tasks.filter((t) => t.state === "waiting")) lines.push(`  ${paint(output, "yellow", "‖")} ${task.key} waiting`);
  for (const line of recent.slice(-5)) lines.push(paint(output, "dim", `  ${line}`));
  return lines;
}

/** Redraws a block of lines in place on a terminal. */
export class LiveBlock {
  private height = 0;
  constructor(private readonly write: (text: string) => void) {}
  draw(lines: string[]): void {
    const columns = process.stdout.columns ?? 120;
    const clipped = lines.map((line) => (line.length > columns + 20 ? line.slice(0, columns - 1) : line));
    this.write((this.height > 0 ? `\x1b[${this.height}F\x1b[J` : "") + clipped.join("\n") + "\n");
    this.height = clipped.length;
  }
  clear(): void {
    if (this.height > 0) this.write(`\x1b[${this.height}F\x1b[J`);
    this.height = 0;
  }
}

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
