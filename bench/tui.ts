/**
 * How long one refresh of the dashboard takes on a large run: after a
 * change of the database (a drone's heartbeat, committed by another
 * connection), the dashboard reads the run (summaries of every task, its
 * gates, budget, usage, the event tail, the pending gates and drones),
 * builds the screen (tasks by wave, the window that fits) and draws it.
 * Measured on the run's page, with the selection at the top and in the
 * middle of the tasks, and on the home page (the list of runs). Prints a
 * table (or --json) with the target; exits 0 either way: it is a report.
 *
 * usage: bun run bench/tui.ts [--tasks 10000] [--refreshes 40] [--width 120] [--height 40] [--json]
 */
import { parseArgs } from "node:util";
import { createTestRenderer } from "@opentui/core/testing";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { FULL_READ_MS } from "../src/store/runSummaryCache.ts";
import { Source } from "../src/tui/data.ts";
import { DashboardView } from "../src/tui/render.ts";
import { initialState, type Route, type UiState } from "../src/tui/state.ts";
import { count } from "./lib/args.ts";
import { cpuMeter, type CpuShare } from "./lib/cpu.ts";
import { tempDir } from "./lib/files.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { fixed, int, percent, table, targetTable } from "./lib/table.ts";
import { refreshOnce, seed, type RefreshTimes } from "./tui/refresh.ts";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "10000" },
    refreshes: { type: "string", default: "40" },
    width: { type: "string", default: "120" },
    height: { type: "string", default: "40" },
    json: { type: "boolean", default: false },
  },
});
const TASKS = count("--tasks", values.tasks);
const REFRESHES = count("--refreshes", values.refreshes);
const WIDTH = count("--width", values.width);
const HEIGHT = count("--height", values.height);
const TARGET_MS = 50;
/** Refreshes before measuring: the first reads warm SQLite's cache and the JIT. */
const WARMUP = 10;

const progress = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};

interface Case {
  name: string;
  route: Route;
  ui: UiState;
  /** Every refresh reads the run in full (a fresh Source), as the first read and one every FULL_READ_MS do. */
  full?: boolean;
}

interface Measured {
  name: string;
  read: Summary;
  view: Summary;
  draw: Summary;
  total: Summary;
  others: CpuShare["others"];
}

const dir = tempDir("farcaster-bench-tui-");
process.on("SIGINT", () => {
  dir.remove();
  process.exit(130);
});
const started = performance.now();
const writer = new SqliteStore(dir.file("farcaster.db"));
const reader = new SqliteStore(dir.file("farcaster.db"), { readOnly: true });
const setup = await createTestRenderer({ width: WIDTH, height: HEIGHT, exitOnCtrlC: false });
try {
  progress(`seeding a run of ${TASKS} tasks…`);
  const seeded = await seed(writer, { tasks: TASKS, width: 100, done: 0.4, drones: 8, smallRuns: 49 });
  const view = new DashboardView(setup.renderer, true);
  const middle = `${Math.floor(TASKS / 2)}`;
  const runRoute: Route = { kind: "run", runId: seeded.runId, pane: "tasks" };
  const cases: Case[] = [
    { name: `run page, ${TASKS} tasks: a refresh after a change`, route: runRoute, ui: initialState(seeded.runId) },
    { name: `run page, ${TASKS} tasks: a full read`, route: runRoute, ui: initialState(seeded.runId), full: true },
    { name: `run page, ${TASKS} tasks, selection in the middle`, route: runRoute, ui: { ...initialState(seeded.runId), panes: { [`run:${seeded.runId}/tasks`]: { selected: null, index: Number(middle), top: Number(middle), filter: "" } } } },
    { name: "home page, 50 runs", route: { kind: "home", pane: "runs" }, ui: initialState() },
  ];
  const meter = cpuMeter();
  const results: Measured[] = [];
  let beat = 0;
  for (const c of cases) {
    progress(`measuring: ${c.name}`);
    const samples: RefreshTimes[] = [];
    Bun.gc(true); // each case starts without the garbage of the one before (the seed's, for the first)
    let source = new Source(reader);
    const stop = meter.start();
    for (let i = 0; i < WARMUP + REFRESHES; i++) {
      // A heartbeat from another connection: the change the dashboard sees and refreshes for.
      const before = reader.changeToken();
      const drone = seeded.held[beat++ % seeded.held.length]!;
      await writer.renewLeases(drone.worker, drone.leases);
      if (reader.changeToken() === before) throw new Error("the reader did not see the heartbeat's commit");
      if (c.full) source = new Source(reader);
      const { times } = await refreshOnce(source, setup, view, c.route, c.ui);
      if (i >= WARMUP) samples.push(times);
    }
    const share = stop();
    results.push({
      name: c.name,
      read: summarize(samples.map((s) => s.readMs)),
      view: summarize(samples.map((s) => s.viewMs)),
      draw: summarize(samples.map((s) => s.drawMs)),
      total: summarize(samples.map((s) => s.totalMs)),
      others: share.others,
    });
  }
  // What the dashboard does every poll when nothing changed: look at the change token.
  const polls = 10_000;
  const p0 = performance.now();
  for (let i = 0; i < polls; i++) reader.changeToken();
  const pollUs = ((performance.now() - p0) / polls) * 1000;

  const targets = results
    .slice(0, 2)
    .map((r) => ({ name: `one refresh of a ${int(TASKS)}-task run (${r.name.split(": ").at(-1)}), median < ${TARGET_MS} ms`, measured: `median ${fixed(r.total.p50, 1)} ms, p90 ${fixed(r.total.p90, 1)} ms`, pass: r.total.p50 < TARGET_MS }));
  if (values.json) {
    console.log(JSON.stringify({ machine: machine(), tasks: TASKS, refreshes: REFRESHES, size: { width: WIDTH, height: HEIGHT }, results, pollUs, targets }, null, 2));
  } else {
    const ms = (s: Summary) => `${fixed(s.p50, 1)} / ${fixed(s.p90, 1)} / ${fixed(s.max, 1)}`;
    console.log(`Dashboard refresh benchmark — ${describeMachine(machine())}; commit ${commitInfo(import.meta.dir + "/..")}; ${REFRESHES} refreshes per case at ${WIDTH}×${HEIGHT}; ${fixed((performance.now() - started) / 1000, 1)} s in all\n`);
    console.log(table(["case", "read ms", "view ms", "draw ms", "total ms (p50 / p90 / max)", "others' CPU"], results.map((r) => [r.name, fixed(r.read.p50, 1), fixed(r.view.p50, 1), fixed(r.draw.p50, 1), ms(r.total), percent(r.others)])));
    console.log("");
    console.log(targetTable(targets));
    console.log("");
    console.log("Notes:");
    console.log(`- One refresh: after another connection commits a heartbeat, the read-only store's reads of the route (Store.readRunSummary, runBudget once per run, runModelUsage, tailEvents, listGates, listDrones; home: listRuns, countTasksByState, tailEvents), then buildScreen (view models and layout), then drawing to OpenTUI's test renderer (renderOnce). read, view and draw columns are medians; ${WARMUP} refreshes first, not counted.`);
    console.log(`- A refresh after a change reads only the tasks changed since the last read (readRunSummary changedSince) and merges them, as the dashboard does; it reads the run in full at first and every ${FULL_READ_MS / 1000} s, which the full-read row measures on its own (the waves are computed again only when tasks were added).`);
    console.log(`- The run: ${int(TASKS)} tasks in waves of 100 (task i after task i − 100), 40% succeeded with one journaled step each, 8 drones holding 8 leases each, 5 failed (their chains skipped), one at a gate; 49 small finished runs beside it.`);
    console.log(`- When nothing changed the dashboard only looks at the change token (PRAGMA data_version): ${fixed(pollUs, 1)} µs a look, every 150 ms.`);
    const disturbed = results.some((r) => (r.others ?? 0) > 0.1);
    if (disturbed) console.log(`- WARNING: other processes used up to ${percent(Math.max(...results.map((r) => r.others ?? 0)))} of the machine during a measurement; rerun on a quiet machine.`);
  }
} finally {
  await setup.dispose();
  await reader.close();
  await writer.close();
  dir.remove();
}
