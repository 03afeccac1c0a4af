/**
 * One benchmark process: opens a workload's cycle, waits for the start time
 * shared by every process of the measurement, runs claim→complete in a tight
 * loop until the end time, and prints a WorkerResult as JSON on stdout.
 * Only cycles that complete inside the window count.
 *
 * usage: bun bench/store/worker.ts KIND DB WORKER START END [store|sqlite]   (epoch ms; how raw and minimal checkpoint)
 */
import { record, type Histogram } from "../lib/histogram.ts";
import { isKind, openCycle } from "./workloads.ts";

export interface WorkerResult {
  worker: string;
  /** Cycles completed inside the window. */
  count: number;
  /** A claim found nothing ready: the supply was too small, the numbers are void. */
  exhausted: boolean;
  /** The process was not ready by the start time, so it did not overlap the whole window. */
  late: boolean;
  /** Time spent in claims and in completions, for counted cycles. */
  claimMs: number;
  completeMs: number;
  worstClaimMs: number;
  claims: Histogram;
}

const [kind, path, worker, start, end, checkpoints = "store"] = process.argv.slice(2);
if (!isKind(kind) || !path || !worker || !start || !end || (checkpoints !== "store" && checkpoints !== "sqlite")) {
  throw new Error("usage: bun bench/store/worker.ts raw|minimal|store DB WORKER START_MS END_MS [store|sqlite]");
}
const startAt = Number(start);
const endAt = Number(end);

const cycle = openCycle(kind, path, worker, checkpoints);
const result: WorkerResult = { worker, count: 0, exhausted: false, late: Date.now() > startAt, claimMs: 0, completeMs: 0, worstClaimMs: 0, claims: {} };
await Bun.sleep(Math.max(0, startAt - Date.now()));

while (Date.now() < endAt) {
  const t0 = performance.now();
  const complete = await cycle.claim();
  const t1 = performance.now();
  if (!complete) {
    result.exhausted = true;
    break;
  }
  await complete();
  const t2 = performance.now();
  if (Date.now() > endAt) break;
  result.count++;
  result.claimMs += t1 - t0;
  result.completeMs += t2 - t1;
  result.worstClaimMs = Math.max(result.worstClaimMs, t1 - t0);
  record(result.claims, t1 - t0);
}

cycle.close();
process.stdout.write(JSON.stringify(result));
