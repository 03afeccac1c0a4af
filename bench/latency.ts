/**
 * The two latencies Farcaster has targets for, against those targets:
 *
 *   1. dispatch: a dependency's completeTask return → the dependent's first
 *      step, one drone, p50 / p99 (target: p99 < 5 ms), with tasks back to
 *      back and with each task holding --hold ms (the idle-poll back-off in
 *      effect);
 *   2. crash recovery: `farcaster worker --lease L` killed with SIGKILL while
 *      running a long task → the task's first step running again on the other,
 *      idle, drone (target: ≤ lease + 250 ms, every repetition).
 *
 * The same measurements are rows 3 and 4 of bench/drone.ts; this runs only
 * them. Prints one table (or --json) and exits 0: it is a report, not a test.
 *
 * usage: bun run bench/latency.ts [--concurrency 8] [--handoffs 250] [--hold 20] [--repeats 3] [--lease 2s]
 *                                 [--wait-quiet 0] [--json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDroneBench } from "./drone/context.ts";
import { crashRecovery } from "./drone/crash.ts";
import { dispatchLatency } from "./drone/dispatch.ts";
import { formatLatency, latencyTargets, type LatencyReport } from "./drone/report.ts";
import { LATENCY_OPTIONS, latencySettings } from "./drone/settings.ts";
import { commitInfo, machine } from "./lib/machine.ts";

const { values } = parseArgs({ options: LATENCY_OPTIONS });
const settings = latencySettings(values);

const began = performance.now();
const host = machine();
const bench = openDroneBench(settings);
try {
  const dispatch = await dispatchLatency(bench, settings.dispatch);
  const crash = await crashRecovery(bench, settings.crash);
  const report: LatencyReport = {
    machine: { ...host, commit: commitInfo(join(import.meta.dir, "..")) },
    settings: { ...settings.dispatch, repeats: settings.crash.repeats, crashLeaseMs: settings.crash.leaseMs },
    dispatch, crash, targets: latencyTargets(dispatch, crash), problems: bench.problems,
    seconds: (performance.now() - began) / 1000,
  };
  console.log(settings.json ? JSON.stringify(report, null, 2) : formatLatency(report));
} finally {
  bench.close();
}
