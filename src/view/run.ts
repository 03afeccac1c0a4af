/**
 * The view model of a run at work: store records in, rows of plain data out.
 * No colour, no widths, no terminal: the main job's live view and plain
 * lines (src/cli/live.ts), the dashboard and JSON output draw these rows.
 */
import type { EventRecord } from "../core/events.ts";
import { PLANNING_TASK_KEY, type RunState, type TaskState } from "../core/states.ts";
import type { RunRecord, StateCounts, TaskRecord, TaskSummary } from "../store/types.ts";

/** The order task states are counted in, for people. */
export const STATE_ORDER: readonly TaskState[] = ["succeeded", "running", "waiting", "ready", "blocked", "failed", "skipped", "cancelled"];

export interface StateCount {
  state: TaskState;
  count: number;
}

export interface RunningRow {
  key: string;
  drone: string;
  elapsedMs: number;
}

export interface RunProgress {
  runId: string;
  state: RunState;
  elapsedMs: number;
  /** Non-zero counts only, in STATE_ORDER; the planning task is not counted. */
  counts: StateCount[];
  running: RunningRow[];
  waiting: string[];
  /** The last events, described (oldest first). */
  recent: string[];
}

export function countByState(tasks: readonly Pick<TaskRecord, "key" | "state">[]): StateCount[] {
  const counts = new Map<TaskState, number>();
  for (const task of tasks) if (task.key !== PLANNING_TASK_KEY) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  return STATE_ORDER.filter((state) => counts.has(state)).map((state) => ({ state, count: counts.get(state)! }));
}

/** Counts as the store gives them (countTasksByState), in STATE_ORDER, non-zero only. */
export function stateCounts(counts: StateCounts): StateCount[] {
  return STATE_ORDER.filter((state) => (counts[state] ?? 0) > 0).map((state) => ({ state, count: counts[state]! }));
}

/** A run's progress in the six numbers people ask for, and the total they are of. */
export interface Tally {
  succeeded: number;
  running: number;
  ready: number;
  waiting: number;
  failed: number;
  skipped: number;
  /** Every task, blocked and cancelled ones included. */
  total: number;
}

/** The states a tally shows, in order, with the mark each is shown with. */
export const TALLY_MARKS: readonly (readonly [Exclude<keyof Tally, "total">, string])[] = [
  ["succeeded", "✓"],
  ["running", "▸"],
  ["ready", "○"],
  ["waiting", "‖"],
  ["failed", "✗"],
  ["skipped", "↷"],
];

export function tallyOf(counts: StateCounts | readonly StateCount[]): Tally {
  const get: (state: TaskState) => number = Array.isArray(counts)
    ? (state) => (counts as readonly StateCount[]).find((c) => c.state === state)?.count ?? 0
    : (state) => (counts as StateCounts)[state] ?? 0;
  let total = 0;
  for (const state of STATE_ORDER) total += get(state);
  return { succeeded: get("succeeded"), running: get("running"), ready: get("ready"), waiting: get("waiting"), failed: get("failed"), skipped: get("skipped"), total };
}

/** A running task's time counts from its current attempt's start (from now when that is not known). */
export function runProgress(run: RunRecord, tasks: readonly Pick<TaskSummary, "key" | "state" | "leaseOwner" | "attemptStartedAt">[], recent: readonly string[], now: number): RunProgress {
  return {
    runId: run.id,
    state: run.state,
    elapsedMs: now - run.createdAt,
    counts: countByState(tasks),
    running: tasks.filter((t) => t.state === "running").map((t) => ({ key: t.key, drone: t.leaseOwner ?? "", elapsedMs: now - (t.attemptStartedAt ?? now) })),
    waiting: tasks.filter((t) => t.state === "waiting").map((t) => t.key),
    recent: [...recent],
  };
}

/** One line, in words, for an event; `keys` maps task ids to their workplan ids. */
export function describeEvent(event: EventRecord, keys: ReadonlyMap<number, string>): string {
  const task = event.taskId === null ? "" : (keys.get(event.taskId) ?? `#${event.taskId}`);
  const firstLine = (text: string) => text.split("\n")[0];
  switch (event.type) {
    case "run.created":
      return "run created";
    case "run.planned":
      return `planned ${event.data.tasks} tasks`;
    case "task.started":
      return `started ${task} (${event.actor}${event.data.attempt > 1 ? `, attempt ${event.data.attempt}` : ""})`;
    case "task.succeeded":
      return `succeeded ${task}`;
    case "task.retry_scheduled":
      return `failed ${task}, will retry: ${firstLine(event.data.error)}`;
    case "task.failed":
      return `FAILED ${task} (${event.data.reason}): ${firstLine(event.data.error)}${event.data.skipped.length ? `; skipped ${event.data.skipped.join(", ")}` : ""}`;
    case "task.waiting":
      return `${task} waits: ${event.data.reason}`;
    case "task.lease_expired":
      return `${task}: drone ${event.data.owner} stopped heartbeating; task reclaimed`;
    case "task.released":
      return `released ${task}`;
    case "gate.opened":
      return `gate ${event.data.gate} (${task}): ${event.data.question}`;
    case "gate.approved":
      return `gate ${event.data.gate} approved by ${event.actor}`;
    case "gate.rejected":
      return `gate ${event.data.gate} rejected by ${event.actor}: ${event.data.reason}`;
    default:
      return `${event.type}${task ? ` ${task}` : ""}`;
  }
}
