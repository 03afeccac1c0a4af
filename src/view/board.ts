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

/** A task as a row, at `now`. */
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

export interface Wave {
  /** 1-based; 0 holds the planning task. */
  number: number;
  tasks: number;
  succeeded: number;
  counts: StateCount[];
}

export interface Board {
  waves: Wave[];
  /** Every task in wave order, workplan order within a wave: the order rows are shown in. */
  order: TaskSummary[];
  waveOf: ReadonlyMap<number, number>;
  /** The pending gate each waiting task waits at, by task id. */
  gateOf: ReadonlyMap<number, string>;
}

/**
 * Each task's wave by its key. It depends only on the DAG, so a viewer
 * computes it once per run (again only when tasks are added) and passes it in.
 */
export function wavesOf(tasks: readonly Pick<TaskSummary, "key" | "after">[]): Map<string, number> {
  const waveOf = new Map<string, number>();
  const planned = tasks.filter((task) => task.key !== PLANNING_TASK_KEY);
  computeWaves(planned.map((task) => ({ id: task.key, after: task.after }))).forEach((wave, i) => {
    for (const key of wave) waveOf.set(key, i + 1);
  });
  return waveOf;
}

/**
 * Tasks grouped by wave, with each wave's counts. Rows are made only for the
 * tasks shown (taskRow), so a board of ten thousand tasks costs one pass.
 */
export function taskBoard(tasks: readonly TaskSummary[], gates: readonly GateRecord[], waves: ReadonlyMap<string, number> = wavesOf(tasks)): Board {
  const gateOf = new Map<number, string>();
  for (const gate of gates) if (gate.state === "pending" && gate.taskId !== null) gateOf.set(gate.taskId, gate.id);
  // A task outside every wave (its dependency is not in the run) goes last rather than nowhere.
  let last = 0;
  for (const wave of waves.values()) if (wave > last) last = wave;
  last += 1;
  const groups = new Map<number, TaskSummary[]>();
  const waveOf = new Map<number, number>();
  for (const task of tasks) {
    const wave = task.key === PLANNING_TASK_KEY ? 0 : (waves.get(task.key) ?? last);
    waveOf.set(task.id, wave);
    const group = groups.get(wave);
    if (group) group.push(task);
    else groups.set(wave, [task]);
  }
  const numbers = [...groups.keys()].sort((a, b) => a - b);
  const order: TaskSummary[] = [];
  const summaries: Wave[] = [];
  for (const number of numbers) {
    const group = groups.get(number)!;
    for (const task of group) order.push(task);
    const counts = countByState(group);
    summaries.push({ number, tasks: group.length, succeeded: counts.find((c) => c.state === "succeeded")?.count ?? 0, counts });
  }
  return { waves: summaries, order, waveOf, gateOf };
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
