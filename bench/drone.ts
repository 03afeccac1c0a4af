/**
 * What the engine costs on top of SQLite, end to end through the Drone:
 *
 *   1. throughput of no-op tasks (claim → one journaled ctx.step → complete,
 *      which makes one dependent ready) with 1 and 4 drone processes, against
 *      the raw SQLite ceiling (1-row write transactions) measured in the same run;
 *   2. the cost of one journaled ctx.step of a no-op function;
 *   3. dispatch latency: a dependency's completeTask return → the dependent's
 *      first step, one drone, its idle-poll back-off in effect;
 *   4. crash recovery: `farcaster worker --lease 2s` killed with SIGKILL while
 *      running a long task → the task's first step running again on the other
 *      (idle) drone.
 *
 * 3 and 4 have targets, printed under the table; bench/latency.ts runs only
 * them. Each measurement runs in fresh processes on its own database file in
 * a temp directory, removed at the end. Prints one table (or --json) and
 * exits 0: it is a report, not a test.
 *
 * Each row says how much of the machine other processes used meanwhile; on a
 * shared machine, --wait-quiet N waits (up to N s) before each measurement
 * until they use less than 10% of it for a second.
 *
 * usage: bun run bench/drone.ts [--seconds 4] [--concurrency 8] [--handoffs 250] [--hold 20]
 *                               [--repeats 3] [--lease 2s] [--wait-quiet 0] [--json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDroneBench } from "./drone/context.ts";
import { crashRecovery } from "./drone/crash.ts";
import { dispatchLatency } from "./drone/dispatch.ts";
import { formatDrone, latencyTargets, type DroneReport } from "./drone/report.ts";
import { LATENCY_OPTIONS, latencySettings } from "./drone/settings.ts";
import { MEASURED_PAIRS, STEPS_PER_TASK, stepCost } from "./drone/steps.ts";
import { CHAINS, findRow, measureThroughput, RUN_SIZE, THROUGHPUT_LEASE_MS, WARMUP_MS } from "./drone/throughput.ts";
import { positive } from "./lib/args.ts";
import { commitInfo, machine } from "./lib/machine.ts";

const { values } = parseArgs({ options: { ...LATENCY_OPTIONS, seconds: { type: "string", default: "4" } } });
const seconds = positive("--seconds", values.seconds);
const settings = latencySettings(values);
const concurrency = settings.dispatch.concurrency;

const began = performance.now();
const host = machine();
const bench = openDroneBench(settings);
try {
  const throughput = await measureThroughput(bench, { seconds, concurrency });
  const steps = await stepCost(bench, findRow(throughput, "raw", 1).txUs ?? 0);
  const dispatch = await dispatchLatency(bench, settings.dispatch);
  const crash = await crashRecovery(bench, settings.crash);
  const ratios = [1, 4].map((procs) => ({
    procs,
    droneOverRaw: findRow(throughput, "drone", procs).perSecond / findRow(throughput, "raw", procs).perSecond,
  }));
  const report: DroneReport = {
    machine: { ...host, commit: commitInfo(join(import.meta.dir, "..")) },
    settings: {
      ...settings.dispatch, repeats: settings.crash.repeats, crashLeaseMs: settings.crash.leaseMs,
      seconds, warmupMs: WARMUP_MS, throughputLeaseMs: THROUGHPUT_LEASE_MS, runSize: RUN_SIZE, chains: CHAINS,
      stepsPerTask: STEPS_PER_TASK, stepPairs: MEASURED_PAIRS,
    },
    throughput, ratios, steps, dispatch, crash, targets: latencyTargets(dispatch, crash), problems: bench.problems,
    seconds: (performance.now() - began) / 1000,
  };
  console.log(settings.json ? JSON.stringify(report, null, 2) : formatDrone(report));
} finally {
  bench.close();
}
