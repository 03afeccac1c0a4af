/**
 * Measurement 2 of bench/drone.ts: the cost of one journaled ctx.step of a
 * no-op function, as the difference between tasks of 0 and of N steps run
 * one at a time by one drone, against a raw write transaction timed in the
 * same process.
 */
import type { CpuShare } from "../lib/cpu.ts";
import { summarize, type Summary } from "../lib/stats.ts";
import type { DroneBench } from "./context.ts";
import type { StepsResult } from "./worker.ts";

export const STEPS_PER_TASK = 200;
const STEP_PAIRS = 40;
const STEP_WARMUP_PAIRS = 5;
export const MEASURED_PAIRS = STEP_PAIRS - STEP_WARMUP_PAIRS;
const RAW_TXS_IN_STEP_PROCESS = 3_000;

export interface StepCost {
  perStepUs: number;
  loopPerStepUs: number;
  recordStepUs: number;
  rawTxUs: number;
  /** The raw transaction of the throughput measurement, for comparison. */
  rawTxUsCeiling: number;
  zeroStepTaskMs: Summary;
  manyStepTaskMs: Summary;
  cpu: CpuShare;
}

export async function stepCost(bench: DroneBench, rawTxUsCeiling: number): Promise<StepCost> {
  await bench.quiet();
  const cpu = bench.meter.start();
  const r = await bench.runWorker<StepsResult>({
    mode: "steps", db: bench.dir.file("steps.db"), rawDb: bench.dir.file("steps-raw.db"),
    pairs: STEP_PAIRS, steps: STEPS_PER_TASK, warmupPairs: STEP_WARMUP_PAIRS, rawTxs: RAW_TXS_IN_STEP_PROCESS,
  });
  for (const p of r.problems) bench.problems.push(`steps: ${p}`);
  const zero = summarize(r.attemptMs.zero);
  const many = summarize(r.attemptMs.many);
  const result: StepCost = {
    perStepUs: ((many.p50 - zero.p50) / STEPS_PER_TASK) * 1000,
    loopPerStepUs: (summarize(r.loopMs).p50 / STEPS_PER_TASK) * 1000,
    recordStepUs: r.recordStepUs,
    rawTxUs: r.rawTxUs,
    rawTxUsCeiling,
    zeroStepTaskMs: zero,
    manyStepTaskMs: many,
    cpu: cpu(),
  };
  bench.progress(`ctx.step: ${result.perStepUs.toFixed(0)} µs (raw txn ${result.rawTxUs.toFixed(0)} µs)`);
  return result;
}
