/**
 * What the dashboard reads for each route, through the Store's read methods
 * only (no SQL here): each read is bounded, so it can be repeated on every
 * change of the database.
 */
import type { RunBudget } from "../core/workplan.ts";
import type {
  AttemptRecord,
  DroneRecord,
  EventTail,
  GateRecord,
  LogRecord,
  RunRecord,
  RunSummary,
  StateCounts,
  StepRecord,
  Store,
  TaskRecord,
} from "../store/types.ts";
import { RunSummaryCache } from "../store/runSummaryCache.ts";
import { wavesOf } from "../view/board.ts";
import type { Route } from "./state.ts";

/** Runs listed on the home screen. */
export const RUNS_SHOWN = 50;
/** Events kept in an event pane. */
export const EVENTS_SHOWN = 300;
/** Lines of output kept in a task's log pane. */
export const LOG_ENTRIES_SHOWN = 1_000;
/** A drone counts as seen recently when it heartbeat within this. */
export const DRONES_SEEN_MS = 10 * 60_000;

/** Shown on every screen: what waits for a person, and the drones at work. */
export interface Overview {
  pendingGates: GateRecord[];
  drones: DroneRecord[];
}

export type RouteData =
  | { kind: "home"; runs: RunRecord[]; counts: Record<string, StateCounts>; events: EventTail }
  | {
      kind: "run";
      summary: RunSummary;
      /** Each task's wave by key (see wavesOf). */
      waves: ReadonlyMap<string, number>;
      budget: RunBudget | null;
      usage: { turns: number; inputTokens: number; outputTokens: number };
      events: EventTail;
    }
  | { kind: "task"; task: TaskRecord; attempts: AttemptRecord[]; steps: StepRecord[]; logs: LogRecord[]; gates: GateRecord[] }
  | { kind: "gate"; gate: GateRecord }
  /** The route's subject is not there (a run id mistyped, a database of another project). */
  | { kind: "missing"; message: string };

export interface ScreenData {
  /** The route this was read for: until a new route's data arrives, the screen says it is loading. */
  route: Route;
  overview: Overview;
  data: RouteData;
  /** When it was read (the system clock). */
  readAt: number;
}

export async function loadOverview(store: Store, now: number): Promise<Overview> {
  const [pendingGates, drones] = await Promise.all([store.listGates({ pendingOnly: true }), store.listDrones({ since: now - DRONES_SEEN_MS })]);
  return { pendingGates, drones };
}

/** The run's model usage (a sum over its journal) is read at most this often: a budget moves slowly. */
export const USAGE_READ_MS = 2_000;

type Usage = { turns: number; inputTokens: number; outputTokens: number };

/** Reads what each route shows; keeps the current run's tasks and each run's budget between reads. */
export class Source {
  private run: { cache: RunSummaryCache; waves: ReadonlyMap<string, number> } | null = null;
  private readonly budgets = new Map<string, RunBudget | null>();
  private usage: { runId: string; at: number; usage: Usage } | null = null;

  constructor(private readonly store: Store) {}

  async load(route: Route, now: number): Promise<ScreenData> {
    const [overview, data] = await Promise.all([loadOverview(this.store, now), this.loadRoute(route, now)]);
    return { route, overview, data, readAt: now };
  }

  /** The run's summary: the tasks changed since the last read merged into the last (see RunSummaryCache). */
  async runSummary(runId: string, now: number): Promise<{ summary: RunSummary; waves: ReadonlyMap<string, number> }> {
    if (this.run?.cache.runId !== runId) this.run = { cache: new RunSummaryCache(this.store, runId), waves: new Map() };
    const run = this.run;
    const { summary, tasksChanged } = await run.cache.read(now);
    // The waves depend on the DAG only: computed again when the tasks changed (a plan inserted), not on every read.
    if (tasksChanged) run.waves = wavesOf(summary.tasks);
    return { summary, waves: run.waves };
  }

  private async modelUsage(runId: string, now: number): Promise<Usage> {
    if (this.usage?.runId === runId && now - this.usage.at < USAGE_READ_MS) return this.usage.usage;
    const usage = await this.store.runModelUsage(runId);
    this.usage = { runId, at: now, usage };
    return usage;
  }

  private async budget(runId: string): Promise<RunBudget | null> {
    // A run's budget is in its workplan, which does not change once planned; a planning run's is asked again.
    if (this.budgets.has(runId)) return this.budgets.get(runId)!;
    const budget = await this.store.runBudget(runId);
    if (budget) this.budgets.set(runId, budget);
    return budget;
  }

  private async loadRoute(route: Route, now: number): Promise<RouteData> {
    try {
      switch (route.kind) {
        case "home": {
          const [runs, events] = await Promise.all([this.store.listRuns({ limit: RUNS_SHOWN }), this.store.tailEvents({ limit: EVENTS_SHOWN })]);
          const counts = await this.store.countTasksByState(runs.map((run) => run.id));
          return { kind: "home", runs, counts, events };
        }
        case "run": {
          const [{ summary, waves }, budget, usage, events] = await Promise.all([
            this.runSummary(route.runId, now),
            this.budget(route.runId),
            this.modelUsage(route.runId, now),
            this.store.tailEvents({ runId: route.runId, limit: EVENTS_SHOWN }),
          ]);
          return { kind: "run", summary, waves, budget, usage, events };
        }
        case "task": {
          const [task, attempts, steps, logs, gates] = await Promise.all([
            this.store.getTask(route.taskId),
            this.store.listAttempts(route.taskId),
            this.store.listSteps(route.taskId),
            this.store.tailLogs(route.taskId, LOG_ENTRIES_SHOWN),
            this.store.listGates({ runId: route.runId }),
          ]);
          return { kind: "task", task, attempts, steps, logs, gates: gates.filter((gate) => gate.taskId === task.id) };
        }
        case "gate":
          return { kind: "gate", gate: await this.store.getGate(route.gateId) };
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code && code.endsWith("_not_found")) return { kind: "missing", message: (error as Error).message };
      throw error;
    }
  }
}
