/**
 * Farcaster against plainjob 0.0.14 (a minimal SQLite job queue on bun:sqlite),
 * side by side in one run, on the same machine, the same kind of work:
 * N no-op tasks in the shapes of bench/peers/shapes.ts
 *
 *   independent tasks, 1 worker process
 *   20 parallel chains, 1 worker
 *   fan-out diamonds 1 → 98 → 1, 1 worker
 *   independent tasks, 4 worker processes
 *   independent tasks, 1 worker, synchronous=FULL (FARCASTER_SYNC=full)
 *
 * Farcaster is driven through its CLI as a user would (bench/peers/farcaster.ts):
 * a workplan JSON file of bench-noop tasks with one journaled no-op ctx.step,
 * `farcaster run plan.json --detach`, then `farcaster worker --quiet` processes.
 * --farcaster DIR picks the checkout whose farcaster.ts runs (default: the one
 * this bench lives in); --farcaster-b DIR adds a second checkout as a third
 * contender in the same interleaving (a branch against main). --nice-extra N
 * adds "farcaster-nice": the same checkout, whose extra workers (all but the
 * first, started once the first hosts the file) run under `nice -n N`.
 *
 * plainjob is installed by the bench (npm install --prefix into a cache folder
 * under the system temp directory, never into this project) and run by
 * bench/peers/plainjob-worker.ts processes: one defineWorker each, a handler
 * that does nothing. plainjob has no dependencies, so the DAG shapes become
 * the enqueues a plainjob user would write: a chain's job enqueues the next
 * one from its handler; a diamond's root enqueues its 98 jobs, each of those
 * counts itself in a tiny table of the same database (UPDATE … RETURNING in
 * an IMMEDIATE transaction), and the one that completes the count enqueues
 * the sink. Those writes are not atomic with plainjob's completion of the job
 * (plainjob offers no hook for that); Farcaster's are. plainjob keeps its own
 * settings (WAL, synchronous=NORMAL, busy_timeout 5 s); the FULL row sets
 * synchronous=FULL on its connection after defineQueue.
 *
 * Method: rounds of every shape, each contender once per shape, back to back
 * (the order of the contenders rotates from round to round); a fresh database
 * per measurement; the window from the first task's start to the last task's
 * finish (Farcaster: its tasks table; plainjob: its workers' clocks); the
 * workers' CPU, write-call bytes and memory from /proc, for that window. Each
 * round's ratio comes from its own pair; the table shows medians and ranges.
 * See bench/README.md for how to read it. On a shared machine, --wait-quiet N
 * waits (up to N s) before each measurement until other processes use less
 * than 10% of it for a second.
 *
 * Prints one table (or --json) and exits 0: it is a report, not a test.
 *
 * usage: bun run bench/peers.ts [--tasks 15000] [--rounds 3] [--shapes independent,chains,…]
 *                               [--farcaster DIR] [--farcaster-b DIR] [--nice-extra N] [--wait-quiet 0] [--json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { choices, count, integerIn, nonNegative } from "./lib/args.ts";
import { cpuMeter, waitForQuiet } from "./lib/cpu.ts";
import { tempDir } from "./lib/files.ts";
import { machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { int } from "./lib/table.ts";
import { farcasterContender } from "./peers/farcaster.ts";
import { measure, type Contender, type Measurement } from "./peers/measure.ts";
import { installPlainjob, plainjobContender } from "./peers/plainjob.ts";
import { buildReport, formatReport } from "./peers/report.ts";
import { SHAPE_IDS, SHAPES, taskCount } from "./peers/shapes.ts";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "15000" },
    rounds: { type: "string", default: "3" },
    shapes: { type: "string" },
    farcaster: { type: "string", default: join(import.meta.dir, "..") },
    "farcaster-b": { type: "string" },
    "nice-extra": { type: "string" },
    "wait-quiet": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const tasks = count("--tasks", values.tasks);
const rounds = count("--rounds", values.rounds);
const only = choices("--shapes", values.shapes, SHAPE_IDS);
const niceExtra = values["nice-extra"] === undefined ? undefined : integerIn("--nice-extra", values["nice-extra"], 1, 19);
const waitQuietMs = nonNegative("--wait-quiet", values["wait-quiet"]) * 1000;
const shapes = only ? SHAPES.filter((s) => only.includes(s.id)) : SHAPES;
const progress = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};

const began = performance.now();
const host = machine();
const dir = tempDir("farcaster-bench-peers-");
const meter = cpuMeter();
const children = new Children((child) => meter.exited(child));
children.onInterrupt(dir.remove);
const problems: string[] = [];
try {
  const contenders: Contender[] = [
    farcasterContender("farcaster", values.farcaster!, dir, children),
    plainjobContender(await installPlainjob(progress), children),
  ];
  if (values["farcaster-b"]) contenders.push(farcasterContender("farcaster-b", values["farcaster-b"], dir, children));
  if (niceExtra !== undefined) contenders.push(farcasterContender("farcaster-nice", values.farcaster!, dir, children, niceExtra, problems));

  const measurements: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round - 1) % contenders.length]!);
    for (const shape of shapes) {
      const n = taskCount(shape.layout, tasks);
      for (const contender of order) {
        const busy = await waitForQuiet(meter, waitQuietMs, progress);
        if (busy) problems.push(busy);
        const m = await measure({ children, meter, problems }, contender, shape, n, dir.file(`${contender.name}-${shape.id}-${round}.db`), round);
        measurements.push(m);
        progress(`round ${round}/${rounds}, ${shape.id}: ${contender.name} ${int(m.perSecond)} tasks/s`);
      }
    }
  }
  const report = buildReport(
    {
      machine: host, settings: { tasks, rounds, shapes: shapes.map((s) => s.id) },
      contenders: contenders.map((c) => ({ name: c.name, description: c.description })),
      measurements, problems, seconds: (performance.now() - began) / 1000,
    },
    shapes,
  );
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report, shapes));
} finally {
  children.kill();
  dir.remove();
}

