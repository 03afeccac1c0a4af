/**
 * Dispatch latency (bench/drone.ts row 3, bench/latency.ts): one drone runs
 * single chains of one-step bench-noop tasks; per hand-off, from the
 * dependency's completeTask return to the dependent's first step, both
 * performance.now() marks in the drone's process. Once with tasks back to
 * back, once with each task holding a while, so that the drone's idle-poll
 * back-off is in effect.
 */
import type { CpuShare } from "../lib/cpu.ts";
import { summarize, type Summary } from "../lib/stats.ts";
import type { DroneBench } from "./context.ts";
import type { HandoffResult } from "./worker.ts";

const HANDOFF_WARMUP = 30;

export interface DispatchSettings {
  concurrency: number;
  handoffs: number;
  holdMs: number;
}

export interface DispatchRow {
  holdMs: number;
  latencyMs: Summary;
  wakeMs: Summary;
  claimMs: Summary;
  startMs: Summary;
  eventMs: Summary;
  emptyPolls: number;
  cpu: CpuShare;
}

export async function dispatchLatency(bench: DroneBench, settings: DispatchSettings): Promise<DispatchRow[]> {
  await bench.quiet();
  const meter = bench.meter.start();
  const r = await bench.runWorker<HandoffResult>({
    mode: "handoff", db: bench.dir.file("handoff.db"), concurrency: settings.concurrency, handoffs: settings.handoffs,
    holds: [0, settings.holdMs], warmup: HANDOFF_WARMUP,
  });
  const cpu = meter();
  for (const p of r.problems) bench.problems.push(`dispatch: ${p}`);
  const rows = r.runs.map((run) => ({
    holdMs: run.holdMs,
    latencyMs: summarize(run.latencyMs),
    wakeMs: summarize(run.wakeMs),
    claimMs: summarize(run.claimMs),
    startMs: summarize(run.startMs),
    eventMs: summarize(run.eventMs),
    emptyPolls: run.emptyPolls,
    cpu,
  }));
  for (const row of rows) bench.progress(`dispatch, hold ${row.holdMs} ms: p50 ${row.latencyMs.p50.toFixed(2)} ms, p99 ${row.latencyMs.p99.toFixed(2)} ms`);
  return rows;
}
