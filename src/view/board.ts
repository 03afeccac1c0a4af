/**
 * A run's tasks by wave (the DAG's layers: wave k holds the tasks whose
 * longest chain of dependencies has length k), each task with its state,
 * attempt, drone, elapsed time and lease time left; and the run's model
 * budget against what its agents used.
 */
import { computeWaves, type RunBudget } from "../core/workplan.ts";
import { PLANNING_TASK_KEY, type TaskState } from "../core/states.ts";
import type { GateRecord, TaskSummary } from "../store/types.ts";
import { countByState, type StateCount } from "./run.ts";

export interface TaskRow {
  id: number;
  key: string;
  title: string;
  workflow: string;
  state: TaskState;
  /** 1-based; 0 for the planning task. */
  wave: number;
  /** Attempts started so far, and the most it may have. */
  attempt: number;
  maxAttempts: number;
  /** The drone holding it (running tasks). */
  drone: string | null;
  /** Running: since its attempt began; waiting: since it began waiting; finished: how long it took. */
  elapsedMs: number | null;
  /** Running: until its lease expires (negative: expired, not reclaimed yet). */
  leaseLeftMs: number | null;
  /** A pending gate the task waits at. */
  gateId: string | null;
  /** The last failure's first line. */
  error: string | null;
}

export interface Wave {
  /** 1-based; 0 holds the planning task. */
  number: number;
  tasks: TaskRow[];
  counts: StateCount[];
}

export interface Board {
  waves: Wave[];
  /** Every task in wave order (the order rows are shown in). */
  rows: TaskRow[];
}

export function taskRow(task: TaskSummary, wave: number, gateId: string | null, now: number): TaskRow {
  let elapsedMs: number | null = null;
  if (task.state === "running") elapsedMs = now - (task.attemptStartedAt ?? task.startedAt ?? now);
  else if (task.state === "waiting") elapsedMs = now - task.updatedAt;
  else if (task.startedAt !== null && task.finishedAt !== null) elapsedMs = task.finishedAt - task.startedAt;
  return {
    id: task.id,
    key: task.key,
    title: task.title,
    workflow: task.workflow,
    state: task.state,
    wave,
    attempt: task.attempts,
    maxAttempts: task.maxAttempts,
    drone: task.state === "running" ? task.leaseOwner : null,
    elapsedMs,
    leaseLeftMs: task.state === "running" && task.leaseExpiresAt !== null ? task.leaseExpiresAt - now : null,
    gateId,
    error: task.error ? task.error.message.split("\n")[0]! : null,
  };
}

/** Tasks grouped by wave, in workplan order within a wave. */
export function taskBoard(tasks: readonly TaskSummary[], gates: readonly GateRecord[], now: number): Board {
  const pendingGate = new Map<number, string>();
  for (const gate of gates) if (gate.state === "pending" && gate.taskId !== null) pendingGate.set(gate.taskId, gate.id);
  const planned = tasks.filter((task) => task.key !== PLANNING_TASK_KEY);
  const waveOf = new Map<string, number>();
  computeWaves(planned.map((task) => ({ id: task.key, after: task.after }))).forEach((wave, i) => {
    for (const key of wave) waveOf.set(key, i + 1);
  });
  // A task outside every wave (its dependency is not in the run) goes last rather than nowhere.
  const last = Math.max(0, ...waveOf.values()) + 1;
  const groups = new Map<number, TaskRow[]>();
  for (const task of tasks) {
    const wave = task.key === PLANNING_TASK_KEY ? 0 : (waveOf.get(task.key) ?? last);
    const row = taskRow(task, wave, pendingGate.get(task.id) ?? null, now);
    const group = groups.get(wave);
    if (group) group.push(row);
    else groups.set(wave, [row]);
  }
  const waves = [...groups.entries()].sort(([a], [b]) => a - b).map(([number, rows]) => ({ number, tasks: rows, counts: countByState(rows) }));
  return { waves, rows: waves.flatMap((wave) => wave.tasks) };
}

export interface BudgetLine {
  name: "turns" | "input tokens" | "output tokens" | "cost (USD)";
  used: number | null;
  limit: number | null;
}

/** The run's envelope (its workplan's budget) against the model usage recorded so far. */
export function budgetLines(budget: RunBudget | null, usage: { turns: number; inputTokens: number; outputTokens: number }): BudgetLine[] {
  const lines: BudgetLine[] = [
    { name: "turns", used: usage.turns, limit: budget?.turns ?? null },
    { name: "input tokens", used: usage.inputTokens, limit: budget?.inputTokens ?? null },
    { name: "output tokens", used: usage.outputTokens, limit: budget?.outputTokens ?? null },
  ];
  // Cost is not recorded per step; only its limit can be shown.
  if (budget?.costUsd !== undefined) lines.push({ name: "cost (USD)", used: null, limit: budget.costUsd });
  return budget || usage.turns > 0 ? lines : [];
}
