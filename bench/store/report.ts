/**
 * From the processes' results to the report: one Measurement per workload and
 * process count, the ratios between workloads, the targets, and the table.
 */
import { merge, percentile } from "../lib/histogram.ts";
import { table, targetTable, type Target } from "../lib/table.ts";
import type { WorkerResult } from "./worker.ts";
import type { CheckpointPolicy, Kind } from "./workloads.ts";

export interface Measurement {
  kind: Kind;
  procs: number;
  /** Tasks created for it (raw: none needed). */
  supply: number;
  /** Cycles (raw: transactions) per second, all processes together. */
  perSecond: number;
  counts: number[];
  /** Each process's count as a multiple of the fair share total / procs. */
  shares: number[];
  minShare: number;
  worstClaimMs: number;
  p99ClaimMs: number;
  /** Mean time of one claim and one completion, lock waits included. */
  claimUs: number;
  completeUs: number | null;
  /**
   * Largest size of the WAL file during the measurement: whether checkpoints
   * keep up. With the store's checkpoints it stays within a few times
   * WAL_RESTART_PAGES; with SQLite's automatic one, near 1000 pages.
   */
  peakWalBytes: number;
  /** Either makes the numbers void: the supply ran out, or a process started after the window opened. */
  exhausted: boolean;
  late: boolean;
}

export interface Report {
  seconds: number;
  runSize: number;
  /** How raw and minimal checkpointed (the store always uses its own). */
  checkpoints: CheckpointPolicy;
  measurements: Measurement[];
  ratios: { name: string; procs: number; value: number }[];
  targets: Target[];
}

const LABELS: Record<Kind, string> = {
  raw: "raw SQLite, 1-row write txn",
  minimal: "minimal claim→complete",
  store: "SqliteStore claim→complete",
};

export function summarize(kind: Kind, supply: number, seconds: number, results: WorkerResult[], peakWalBytes: number): Measurement {
  const counts = results.map((r) => r.count);
  const total = counts.reduce((a, b) => a + b, 0);
  const shares = counts.map((count) => (total === 0 ? 0 : count / (total / results.length)));
  const sum = (pick: (r: WorkerResult) => number) => results.reduce((acc, r) => acc + pick(r), 0);
  return {
    kind,
    procs: results.length,
    supply,
    perSecond: total / seconds,
    counts,
    shares,
    minShare: Math.min(...shares),
    worstClaimMs: Math.max(...results.map((r) => r.worstClaimMs)),
    p99ClaimMs: percentile(merge(results.map((r) => r.claims)), 0.99),
    claimUs: (sum((r) => r.claimMs) / total) * 1000,
    completeUs: kind === "raw" ? null : (sum((r) => r.completeMs) / total) * 1000,
    peakWalBytes,
    exhausted: results.some((r) => r.exhausted),
    late: results.some((r) => r.late),
  };
}

export function buildReport(seconds: number, runSize: number, checkpoints: CheckpointPolicy, measurements: Measurement[]): Report {
  const find = (kind: Kind, procs: number) => measurements.find((m) => m.kind === kind && m.procs === procs);
  const ratios: Report["ratios"] = [];
  const targets: Target[] = [];
  // A target measured on a void measurement fails, whatever its number.
  const target = (name: string, measured: string, pass: boolean, ...from: Measurement[]) => {
    const valid = from.every((m) => !m.exhausted && !m.late);
    targets.push({ name, measured: valid ? measured : `${measured} (void)`, pass: pass && valid });
  };
  for (const procs of [...new Set(measurements.map((m) => m.procs))]) {
    const store = find("store", procs);
    const minimal = find("minimal", procs);
    const raw = find("raw", procs);
    if (!store) continue;
    if (minimal) {
      const value = store.perSecond / minimal.perSecond;
      ratios.push({ name: "store / minimal", procs, value });
      target(`store ≥ 0.8× minimal cycle, ${plural(procs)}`, `${value.toFixed(2)}×`, value >= 0.8, store, minimal);
    }
    if (raw) ratios.push({ name: "store / raw", procs, value: store.perSecond / raw.perSecond });
  }
  const contended = measurements.find((m) => m.kind === "store" && m.procs > 1);
  if (contended) {
    const where = `store, ${plural(contended.procs)}`;
    target(`every process ≥ 0.5× fair share (${where})`, `min ${contended.minShare.toFixed(2)}×`, contended.minShare >= 0.5, contended);
    target(`worst claim wait < 250 ms (${where})`, `${contended.worstClaimMs.toFixed(1)} ms`, contended.worstClaimMs < 250, contended);
  }
  for (const m of measurements) {
    if (m.exhausted || m.late) {
      const why = m.exhausted ? `the supply of ${m.supply} tasks ran out (rerun with a larger --tasks)` : "a process started late";
      targets.push({ name: `${LABELS[m.kind]}, ${plural(m.procs)}: valid measurement`, measured: why, pass: false });
    }
  }
  return { seconds, runSize, checkpoints, measurements, ratios, targets };
}

export function formatReport(report: Report): string {
  const lines = [
    `Farcaster store benchmark: ${report.seconds} s per measurement, bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs, ${process.platform}-${process.arch}`,
    `Tasks: runs of ${report.runSize} no-op tasks in parallel chains; each completion makes one dependent ready.`,
    report.checkpoints === "store"
      ? "WAL checkpoints: raw and minimal checkpoint like the store (a worker thread; --sqlite-checkpoints for SQLite's automatic ones)."
      : "WAL checkpoints: raw and minimal use SQLite's automatic checkpoint in COMMIT; the store uses its own (a worker thread).",
    "",
    table(
      ["workload", "procs", "per second", "claim µs", "complete µs", "shares of fair", "worst claim ms", "p99 claim ms", "peak WAL MB"],
      report.measurements.map((m) => [
        LABELS[m.kind] + (m.exhausted ? " (SUPPLY RAN OUT)" : m.late ? " (LATE START)" : ""),
        String(m.procs),
        Math.round(m.perSecond).toLocaleString("en-US"),
        m.claimUs.toFixed(0),
        m.completeUs === null ? "–" : m.completeUs.toFixed(0),
        m.shares.map((s) => s.toFixed(2)).join(" "),
        m.worstClaimMs.toFixed(1),
        m.p99ClaimMs.toFixed(2),
        (m.peakWalBytes / 1e6).toFixed(1),
      ]),
    ),
    "",
    table(["ratio", "procs", "value"], report.ratios.map((r) => [r.name, String(r.procs), `${r.value.toFixed(2)}×`])),
    "",
    targetTable(report.targets),
  ];
  return lines.join("\n");
}

function plural(procs: number): string {
  return procs === 1 ? "1 process" : `${procs} processes`;
}
