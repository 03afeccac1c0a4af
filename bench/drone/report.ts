/**
 * The drone benchmarks' reports and their tables: bench/drone.ts prints all
 * four measurements, bench/latency.ts the two latencies with their targets.
 */
import { describeMachine, type Machine } from "../lib/machine.ts";
import { sum } from "../lib/stats.ts";
import { fixed, int, percent, table, targetTable, type Target } from "../lib/table.ts";
import { KILL_AFTER_MS, type CrashRepeat, type CrashResult } from "./crash.ts";
import type { DispatchRow } from "./dispatch.ts";
import type { StepCost } from "./steps.ts";
import { findRow, type ThroughputRow } from "./throughput.ts";

/** The targets the latencies are held to. */
export const DISPATCH_P99_TARGET_MS = 5;
export const RECOVERY_MARGIN_MS = 250;

export interface LatencyReport {
  machine: Machine & { commit: string };
  settings: { concurrency: number; handoffs: number; holdMs: number; repeats: number; crashLeaseMs: number };
  dispatch: DispatchRow[];
  crash: CrashResult;
  targets: Target[];
  problems: string[];
  seconds: number;
}

export interface DroneReport extends LatencyReport {
  settings: LatencyReport["settings"] & {
    seconds: number; warmupMs: number; throughputLeaseMs: number; runSize: number; chains: number; stepsPerTask: number; stepPairs: number;
  };
  throughput: ThroughputRow[];
  ratios: { procs: number; droneOverRaw: number }[];
  steps: StepCost;
}

/** p99 of every dispatch run under 5 ms; every crash recovered within the lease + 250 ms. */
export function latencyTargets(dispatch: DispatchRow[], crash: CrashResult): Target[] {
  const targets: Target[] = dispatch.map((d) => ({
    name: `dependency done → dependent's first step, p99 < ${DISPATCH_P99_TARGET_MS} ms (${holdLabel(d.holdMs)})`,
    measured: `p50 ${fixed(d.latencyMs.p50, 2)} ms, p99 ${fixed(d.latencyMs.p99, 2)} ms (n=${d.latencyMs.n})`,
    pass: d.latencyMs.p99 < DISPATCH_P99_TARGET_MS,
  }));
  const worst = Math.max(...crash.repeats.map((r) => r.recoveryMs));
  const limit = crash.leaseMs + RECOVERY_MARGIN_MS;
  targets.push({
    name: `SIGKILL of a worker → its task running again elsewhere ≤ lease + ${RECOVERY_MARGIN_MS} ms (${fixed(limit / 1000, 2)} s)`,
    measured: `median ${fixed(crash.medianMs / 1000, 2)} s, worst ${fixed(worst / 1000, 2)} s of ${crash.repeats.length}`,
    pass: crash.repeats.length > 0 && worst <= limit,
  });
  return targets;
}

interface Row {
  n: string;
  measurement: string;
  procs: string;
  value: string;
  unit: string;
  vsRaw: string;
  others: string;
  detail: string;
}

function throughputRow(rows: ThroughputRow[], t: ThroughputRow): Row {
  const rawRow = findRow(rows, "raw", t.procs);
  const flag = t.void ? ` (VOID: ${t.void})` : "";
  const spread = `shares of fair ${t.shares.map((x) => fixed(x, 2)).join(" ")}`;
  if (t.kind === "raw") {
    return {
      n: "1", measurement: `raw SQLite: 1-row write txn${flag}`, procs: String(t.procs), value: int(t.perSecond), unit: "txn/s", vsRaw: "1.00×",
      others: percent(t.cpu.others), detail: `${fixed(t.txUs ?? 0, 0)} µs/txn incl. lock waits; ${spread}`,
    };
  }
  const call = (name: string) => fixed(t.perTask?.[name]?.us ?? NaN, 0);
  const reads = sum(["listSteps", "dependencyOutputs", "getRun"].map((name) => t.perTask?.[name]?.callsPerTask ?? 0));
  const claims = t.perTask?.claimTasks?.callsPerTask ?? 0;
  return {
    n: "1", measurement: `drone: claim → 1 no-op step → complete${flag}`, procs: String(t.procs), value: int(t.perSecond), unit: "tasks/s",
    vsRaw: `${fixed(t.perSecond / rawRow.perSecond, 3)}×`, others: percent(t.cpu.others),
    detail: `${fixed(t.cpuUsPerTask ?? NaN, 0)} µs CPU per task; ${fixed(t.writesPerTask ?? 0, 2)} write txns + ${fixed(reads, 1)} reads per task, ${fixed(claims > 0 ? 1 / claims : NaN, 1)} tasks/claim; ` +
      `wall µs per call incl. waits: claim ${call("claimTasks")}, step ${call("recordStep")}, complete ${call("completeTask")}, journal read ${call("listSteps")}; ` +
      `${spread}; timers late by up to ${fixed(t.maxTimerGapMs ?? NaN, 0)} ms; peak WAL ${fixed((t.peakWalBytes ?? 0) / 1e6, 1)} MB`,
  };
}

function stepRow(st: StepCost, stepsPerTask: number): Row {
  return {
    n: "2", measurement: `ctx.step of a no-op fn: (${stepsPerTask}-step task − 0-step task) / ${stepsPerTask}`, procs: "1", value: fixed(st.perStepUs, 0), unit: "µs/step",
    vsRaw: `${fixed(st.perStepUs / st.rawTxUs, 2)}× txn`, others: percent(st.cpu.others),
    detail: `in the workflow's loop ${fixed(st.loopPerStepUs, 0)} µs/step, of which store.recordStep ${fixed(st.recordStepUs, 0)} µs (mean); ` +
      `raw txn ${fixed(st.rawTxUs, 0)} µs in the same process (${fixed(st.rawTxUsCeiling, 0)} µs in row 1); ` +
      `task p50 ${fixed(st.zeroStepTaskMs.p50, 2)} ms with 0 steps, ${fixed(st.manyStepTaskMs.p50, 1)} ms (p90 ${fixed(st.manyStepTaskMs.p90, 1)}) with ${stepsPerTask}`,
  };
}

function holdLabel(holdMs: number): string {
  return holdMs === 0 ? "tasks back to back" : `each task holds ${holdMs} ms`;
}

function dispatchRow(d: DispatchRow): Row {
  return {
    n: "3", measurement: `dispatch: dep's completeTask returns → dependent's step begins, ${holdLabel(d.holdMs)}`, procs: "1",
    value: `${fixed(d.latencyMs.p50, 2)} / ${fixed(d.latencyMs.p99, 2)}`, unit: "ms p50 / p99", vsRaw: "", others: percent(d.cpu.others),
    detail: `n=${d.latencyMs.n}, max ${fixed(d.latencyMs.max, 2)} ms; p50 parts: wake ${fixed(d.wakeMs.p50, 3)} + claim ${fixed(d.claimMs.p50, 2)} + attempt start ${fixed(d.startMs.p50, 2)} ms; ` +
      `${d.emptyPolls} empty idle polls during the chain; events table (whole ms) p50 / p99 ${fixed(d.eventMs.p50, 0)} / ${fixed(d.eventMs.p99, 0)} ms`,
  };
}

function crashRow(c: CrashResult): Row {
  const list = (pick: (r: CrashRepeat) => number) => c.repeats.map((r) => fixed(pick(r) / 1000, 2)).join(", ");
  return {
    n: "4", measurement: `crash recovery: SIGKILL → the task's step runs again on the idle drone (lease ${c.leaseMs / 1000} s)`, procs: "2",
    value: fixed(c.medianMs / 1000, 2), unit: "s, median", vsRaw: "", others: percent(c.cpu.others),
    detail: `each run: ${list((r) => r.recoveryMs)} s = lease left at the kill (${list((r) => r.leaseLeftMs)} s) + from expiry to the step (${list((r) => r.afterExpiryMs)} s)`,
  };
}

function rowTable(rows: Row[], withRaw: boolean): string {
  const headers = ["#", "measurement", "procs", "value", "unit", ...(withRaw ? ["vs raw"] : []), "others' CPU", "detail"];
  return table(headers, rows.map((r) => [r.n, r.measurement, r.procs, r.value, r.unit, ...(withRaw ? [r.vsRaw] : []), r.others, r.detail]));
}

function latencyNotes(report: LatencyReport): string[] {
  const { settings: s, crash: c } = report;
  return [
    `- 3: one drone (${s.concurrency} slots, default idle back-off: 10 ms doubling to 1 s) runs two chains of ${s.handoffs + 1} one-step tasks; ` +
      "completeTask's return and the first step's start are performance.now() marks in that process. Empty idle polls show the back-off was in effect.",
    `- 4: two \`farcaster worker --lease ${c.leaseMs / 1000}s --concurrency ${c.concurrency}\` processes; the one that claims the long task is killed ${KILL_AFTER_MS / 1000} s after its step began ` +
      `(plus a step across one heartbeat period from run to run); a fresh one replaces it afterwards. Expected: the lease left at the kill ` +
      `(${fixed((c.leaseMs * 2) / 3 / 1000, 2)}–${fixed(c.leaseMs / 1000, 2)} s, heartbeats renew every third of the lease) + up to one idle poll (1 s at full back-off).`,
  ];
}

function closingNotes(report: LatencyReport, busy: (number | null)[]): string[] {
  const othersBusy = busy.filter((x): x is number => x !== null);
  const lines = [
    "- others' CPU: the share of all CPUs that other processes used during the measurement (/proc/stat, less this benchmark's processes and kernel threads); " +
      "above ~10% the numbers are disturbed.",
  ];
  if (Math.max(0, ...othersBusy) > 0.1) lines.push(`- WARNING: other processes used up to ${percent(Math.max(...othersBusy))} of the machine during a measurement; rerun on a quiet machine.`);
  for (const p of report.problems) lines.push(`- problem: ${p}`);
  return lines;
}

function header(title: string, report: LatencyReport): string {
  return `${title} — ${describeMachine(report.machine)}; commit ${report.machine.commit}; ${fixed(report.seconds, 1)} s in all`;
}

export function formatLatency(report: LatencyReport): string {
  const busy = [...report.dispatch.map((d) => d.cpu.others), report.crash.cpu.others];
  return [
    header("Farcaster latency benchmark", report),
    "",
    rowTable([...report.dispatch.map(dispatchRow), crashRow(report.crash)], false),
    "",
    targetTable(report.targets),
    "",
    "Notes:",
    ...latencyNotes(report),
    ...closingNotes(report, busy),
  ].join("\n");
}

export function formatDrone(report: DroneReport): string {
  const s = report.settings;
  const rows = [
    ...report.throughput.map((t) => throughputRow(report.throughput, t)),
    stepRow(report.steps, s.stepsPerTask),
    ...report.dispatch.map(dispatchRow),
    crashRow(report.crash),
  ];
  const busy = [...report.throughput.map((t) => t.cpu.others), report.steps.cpu.others, ...report.dispatch.map((d) => d.cpu.others), report.crash.cpu.others];
  return [
    header("Farcaster drone benchmark", report),
    "",
    rowTable(rows, true),
    "",
    targetTable(report.targets),
    "",
    "Notes:",
    `- 1: each process counts the tasks that succeed in a ${s.seconds} s window opened ${s.warmupMs} ms after its drone started. The drones run in bench/drone/worker.ts ` +
      `(a Drone built as \`farcaster worker\` builds it, over a store wrapper that times its calls), ${s.concurrency} slots each, claim lease ${s.throughputLeaseMs / 1000} s. ` +
      `Tasks: runs of ${s.runSize} bench-noop tasks in ${s.chains} parallel chains, so each completion makes one task ready. ` +
      "Raw ceiling: BEGIN IMMEDIATE; INSERT one row; COMMIT (WAL, synchronous=NORMAL, default autocheckpoint, the store's lock retry).",
    `- 2: one drone with 1 slot runs ${s.stepPairs} measured pairs of independent tasks (0 steps, ${s.stepsPerTask} steps), interleaved, after warm-up pairs; medians.`,
    ...latencyNotes(report),
    ...closingNotes(report, busy),
  ].join("\n");
}
