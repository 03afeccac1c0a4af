/**
 * How fast the SQLite store turns tasks over, against what SQLite can do:
 * raw one-row write transactions, a hand-written minimal claim→complete cycle,
 * and SqliteStore's own cycle, each with 1 and 4 processes on one database
 * file; plus the fairness between the 4 processes claiming from the store.
 * Prints a table (or --json) with PASS/FAIL for the targets, and exits 0
 * either way: it is a report.
 *
 * raw and minimal checkpoint the WAL as the store does (a worker thread, see
 * src/store/sqlite/checkpoints.ts); --sqlite-checkpoints gives them SQLite's
 * automatic checkpoint instead, the policy the store had before.
 *
 * usage: bun run bench/store.ts [--seconds 3] [--tasks N] [--run-size 1000] [--only store,minimal]
 *                               [--sqlite-checkpoints] [--json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { choices, count, positive } from "./lib/args.ts";
import { peakSize, tempDir } from "./lib/files.ts";
import { Children } from "./lib/procs.ts";
import { buildReport, formatReport, summarize, type Measurement } from "./store/report.ts";
import type { WorkerResult } from "./store/worker.ts";
import { KINDS, openCycle, prepare, type CheckpointPolicy, type Kind } from "./store/workloads.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    tasks: { type: "string" },
    "run-size": { type: "string", default: "1000" },
    only: { type: "string" },
    "sqlite-checkpoints": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const seconds = positive("--seconds", values.seconds);
const runSize = count("--run-size", values["run-size"]);
const checkpoints: CheckpointPolicy = values["sqlite-checkpoints"] ? "sqlite" : "store";
const fixedSupply = values.tasks === undefined ? undefined : wholeRuns(positive("--tasks", values.tasks));

const WORKER = join(import.meta.dir, "store", "worker.ts");
/** Time for the processes to start and open the database before the window opens; a late one is flagged (LATE START). */
const START_DELAY_MS = 500;
const CALIBRATION_MS = 300;
/** Tasks created per measurement: this many times what one process did in calibration, for the whole window. */
const SUPPLY_HEADROOM = 3;
const ALL: [Kind, number][] = [["raw", 1], ["raw", 4], ["minimal", 1], ["minimal", 4], ["store", 1], ["store", 4]];
/** --only narrows the plan to some workloads (quicker runs while tuning one of them). */
const only = choices("--only", values.only, KINDS);
const PLAN = only ? ALL.filter(([kind]) => only.includes(kind)) : ALL;

const dir = tempDir("farcaster-bench-");
const children = new Children();
children.onInterrupt(dir.remove);
try {
  const supply = new Map<Kind, number>();
  const measurements: Measurement[] = [];
  for (const [kind, procs] of PLAN) {
    if (!supply.has(kind)) supply.set(kind, kind === "raw" ? 0 : (fixedSupply ?? (await calibrate(kind))));
    measurements.push(await measure(kind, procs, supply.get(kind)!));
    if (!values.json) process.stderr.write(`${kind} × ${procs}: ${Math.round(measurements.at(-1)!.perSecond)}/s\n`);
  }
  const report = buildReport(seconds, runSize, checkpoints, measurements);
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
} finally {
  children.kill();
  dir.remove();
}

/** Runs `procs` processes over one fresh database, all in the same window. */
async function measure(kind: Kind, procs: number, tasks: number): Promise<Measurement> {
  const path = dir.file(`${kind}-${procs}.db`);
  await prepare(kind, path, tasks, runSize);
  const startAt = Date.now() + START_DELAY_MS;
  const endAt = startAt + seconds * 1000;
  const wal = peakSize(`${path}-wal`);
  const results = await Promise.all(
    Array.from({ length: procs }, async (_, i) => {
      const cmd = [process.execPath, WORKER, kind, path, `${kind}-${i}`, String(startAt), String(endAt), checkpoints];
      const { value, stderr } = await children.json<WorkerResult>(cmd, `a ${kind} benchmark process`);
      if (stderr.trim()) process.stderr.write(stderr);
      return value;
    }),
  );
  return summarize(kind, tasks, seconds, results, wal.stop());
}

/**
 * How many tasks a measurement needs so that the supply cannot run out:
 * a short run of one process on a scratch database gives the rate.
 */
async function calibrate(kind: Kind): Promise<number> {
  const path = dir.file(`${kind}-calibration.db`);
  await prepare(kind, path, runSize, runSize);
  const cycle = openCycle(kind, path, "calibration", checkpoints);
  const started = performance.now();
  let done = 0;
  while (performance.now() - started < CALIBRATION_MS) {
    const complete = await cycle.claim();
    if (!complete) break;
    await complete();
    done++;
  }
  cycle.close();
  const perSecond = done / ((performance.now() - started) / 1000);
  return wholeRuns(perSecond * seconds * SUPPLY_HEADROOM);
}

/** Tasks are created in whole runs. */
function wholeRuns(tasks: number): number {
  return Math.max(1, Math.ceil(tasks / runSize)) * runSize;
}
