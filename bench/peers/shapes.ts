/**
 * The work both contenders do, shape by shape (the rows of bench/peers.ts):
 * how many tasks, how they depend on each other, how many worker processes
 * run them and at which SQLite synchronous setting.
 *
 *   independent  N tasks, none depending on another
 *   chains       CHAINS parallel chains: task i runs after task i − CHAINS
 *   diamonds     N / DIAMOND diamonds: a root, FAN_OUT tasks after it, a sink after all of those
 */

export const LAYOUTS = ["independent", "chains", "diamonds"] as const;
export type Layout = (typeof LAYOUTS)[number];
export type SyncMode = "normal" | "full";

export const CHAINS = 20;
export const FAN_OUT = 98;
/** Tasks in one diamond: root, FAN_OUT, sink. */
export const DIAMOND = FAN_OUT + 2;

export interface Shape {
  id: string;
  label: string;
  layout: Layout;
  workers: number;
  sync: SyncMode;
}

export const SHAPES: readonly Shape[] = [
  { id: "independent", label: "independent tasks", layout: "independent", workers: 1, sync: "normal" },
  { id: "chains", label: `${CHAINS} parallel chains`, layout: "chains", workers: 1, sync: "normal" },
  { id: "diamonds", label: `fan-out diamonds 1 → ${FAN_OUT} → 1`, layout: "diamonds", workers: 1, sync: "normal" },
  { id: "independent-4", label: "independent tasks", layout: "independent", workers: 4, sync: "normal" },
  { id: "independent-full", label: "independent tasks", layout: "independent", workers: 1, sync: "full" },
];

export const SHAPE_IDS = SHAPES.map((s) => s.id);

/** The task count of a layout for a requested N: diamonds come whole (N rounded up to a multiple of DIAMOND). */
export function taskCount(layout: Layout, requested: number): number {
  return layout === "diamonds" ? Math.max(1, Math.ceil(requested / DIAMOND)) * DIAMOND : requested;
}

interface PlanTask {
  id: string;
  title: string;
  workflow: string;
  input: { steps: number };
  after?: string[];
}

/** The workplan a Farcaster user would write for the layout: `tasks` bench-noop tasks with one journaled step each. */
export function workplan(layout: Layout, tasks: number): { version: 1; goal: string; tasks: PlanTask[] } {
  const task = (id: string, after: string[] = []): PlanTask => ({
    id, title: id, workflow: "bench-noop", input: { steps: 1 }, ...(after.length > 0 ? { after } : {}),
  });
  const list: PlanTask[] = [];
  if (layout === "independent") {
    for (let i = 0; i < tasks; i++) list.push(task(`t${i}`));
  } else if (layout === "chains") {
    for (let i = 0; i < tasks; i++) list.push(task(`t${i}`, i < CHAINS ? [] : [`t${i - CHAINS}`]));
  } else {
    for (let d = 0; d < tasks / DIAMOND; d++) {
      const fan = Array.from({ length: FAN_OUT }, (_, k) => `d${d}-${k}`);
      list.push(task(`d${d}-root`), ...fan.map((id) => task(id, [`d${d}-root`])), task(`d${d}-sink`, fan));
    }
  }
  return { version: 1, goal: `bench/peers: ${tasks} no-op tasks, ${layout}`, tasks: list };
}
