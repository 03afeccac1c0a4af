/**
 * The dashboard's refresh, measured in its parts: the read (what the
 * dashboard reads when the database changed), the view (view models and
 * layout of the screen), and the draw (OpenTUI's test renderer, the real
 * native renderer without a terminal). And the seed: one large run in a mix
 * of states, with drones holding leases, failures and a gate.
 */
import type { TestRendererSetup } from "@opentui/core/testing";
import type { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { ClaimedTask, LeaseRenewal } from "../../src/store/types.ts";
import type { Source, ScreenData } from "../../src/tui/data.ts";
import { DashboardView } from "../../src/tui/render.ts";
import { buildScreen } from "../../src/tui/screen.ts";
import type { Route, UiState } from "../../src/tui/state.ts";

export interface Seeded {
  runId: string;
  /** Leases held by the bench's drones: renewing them is the change between refreshes (a heartbeat). */
  held: { worker: string; leases: LeaseRenewal[] }[];
}

/**
 * `tasks` tasks in waves of `width`: task i depends on task i − width. The
 * first `done` share succeeded (each with one journaled step that reported
 * model usage), `drones` drones hold 8 tasks each, 5 tasks failed for good
 * (their chains are skipped), one waits at a gate, the rest wait their turn.
 * Plus `smallRuns` finished runs of 10 tasks, for the list of runs.
 */
export async function seed(store: SqliteStore, options: { tasks: number; width: number; done: number; drones: number; smallRuns: number }): Promise<Seeded> {
  for (let r = 0; r < options.smallRuns; r++) {
    const small = await store.createRun({ goal: `small run ${r}`, tasks: Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, title: `task ${i}`, workflow: "noop", input: {} })) });
    const claimed = await store.claimTasks("seed", 10, 60_000, { runId: small.id });
    await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, null)));
  }
  const tasks = Array.from({ length: options.tasks }, (_, i) => ({
    id: `task-${String(i).padStart(5, "0")}`,
    title: `Task ${i} of wave ${Math.floor(i / options.width) + 1}`,
    workflow: "noop",
    input: { index: i, command: `make part-${i}` },
    after: i >= options.width ? [`task-${String(i - options.width).padStart(5, "0")}`] : [],
  }));
  const run = await store.createRun({ goal: `a run of ${options.tasks} tasks`, budget: { turns: options.tasks * 2, inputTokens: options.tasks * 5_000 }, tasks });
  let succeeded = 0;
  const target = Math.floor(options.tasks * options.done);
  while (succeeded < target) {
    const claimed = await store.claimTasks("seed", Math.min(500, target - succeeded), 60_000, { runId: run.id });
    if (claimed.length === 0) break;
    await Promise.all(
      claimed.map(async (c) => {
        await store.recordStep(c.taskId, c.attemptId, { key: "turn", seq: 1, kind: "step", status: "completed", input: { n: 1 }, output: { ok: true }, error: null, startedAt: 0, endedAt: 5, usage: { inputTokens: 1_200, outputTokens: 300 } });
        await store.completeTask(c.taskId, c.attemptId, { ok: true });
      }),
    );
    succeeded += claimed.length;
  }
  const failing = await store.claimTasks("seed", 5, 60_000, { runId: run.id });
  await Promise.all(failing.map((c) => store.failTask(c.taskId, c.attemptId, { message: "exit 1" }, { retryable: false })));
  const [asking] = await store.claimTasks("seed", 1, 60_000, { runId: run.id });
  if (asking) {
    await store.suspendTask(asking.taskId, asking.attemptId, {
      reason: "approval",
      step: { key: "review", seq: 1, kind: "approval", status: "waiting", input: null, output: null, error: null, startedAt: 0, endedAt: null },
      gate: { id: "g-bench", stepKey: "review", question: "Go on?", evidence: { checked: succeeded }, askedBy: "seed" },
    });
  }
  const held: Seeded["held"] = [];
  for (let d = 0; d < options.drones; d++) {
    const worker = `bench-host:${1000 + d}:d1`;
    const claimed: ClaimedTask[] = await store.claimTasks(worker, 8, 30_000, { runId: run.id });
    held.push({ worker, leases: claimed.map((c) => ({ taskId: c.taskId, attemptId: c.attemptId, leaseMs: 30_000 })) });
  }
  return { runId: run.id, held };
}

export interface RefreshTimes {
  readMs: number;
  viewMs: number;
  drawMs: number;
  totalMs: number;
}

/** One refresh as the dashboard does it after a change: read the route, build the screen, draw it. */
export async function refreshOnce(source: Source, setup: TestRendererSetup, view: DashboardView, route: Route, ui: UiState): Promise<{ times: RefreshTimes; data: ScreenData }> {
  const t0 = performance.now();
  const data = await source.load(route, Date.now());
  const t1 = performance.now();
  const screen = buildScreen(data, ui, { width: setup.renderer.width, height: setup.renderer.height }, Date.now());
  const t2 = performance.now();
  view.draw(screen);
  await setup.renderOnce();
  const t3 = performance.now();
  return { times: { readMs: t1 - t0, viewMs: t2 - t1, drawMs: t3 - t2, totalMs: t3 - t0 }, data };
}
