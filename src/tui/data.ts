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
  | { kind: "run"; summary: RunSummary; budget: RunBudget | null; usage: { turns: number; inputTokens: number; outputTokens: number }; events: EventTail }
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

export async function loadRoute(store: Store, route: Route): Promise<RouteData> {
  try {
    switch (route.kind) {
      case "home": {
        const [runs, events] = await Promise.all([store.listRuns({ limit: RUNS_SHOWN }), store.tailEvents({ limit: EVENTS_SHOWN })]);
        const counts = await store.countTasksByState(runs.map((run) => run.id));
        return { kind: "home", runs, counts, events };
      }
      case "run": {
        const [summary, budget, usage, events] = await Promise.all([
          store.readRunSummary(route.runId),
          store.runBudget(route.runId),
          store.runModelUsage(route.runId),
          store.tailEvents({ runId: route.runId, limit: EVENTS_SHOWN }),
        ]);
        return { kind: "run", summary, budget, usage, events };
      }
      case "task": {
        const [task, attempts, steps, logs, gates] = await Promise.all([
          store.getTask(route.taskId),
          store.listAttempts(route.taskId),
          store.listSteps(route.taskId),
          store.tailLogs(route.taskId, LOG_ENTRIES_SHOWN),
          store.listGates({ runId: route.runId }),
        ]);
        return { kind: "task", task, attempts, steps, logs, gates: gates.filter((gate) => gate.taskId === task.id) };
      }
      case "gate":
        return { kind: "gate", gate: await store.getGate(route.gateId) };
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code && code.endsWith("_not_found")) return { kind: "missing", message: (error as Error).message };
    throw error;
  }
}

export async function loadScreen(store: Store, route: Route, now: number): Promise<ScreenData> {
  const [overview, data] = await Promise.all([loadOverview(store, now), loadRoute(store, route)]);
  return { route, overview, data, readAt: now };
}
