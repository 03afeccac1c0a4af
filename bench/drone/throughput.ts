/**
 * Measurement 1 of bench/drone.ts: throughput of no-op tasks (claim → one
 * journaled ctx.step → complete, which makes one dependent ready) with 1 and
 * 4 drone processes, against the raw SQLite ceiling (1-row write
 * transactions) measured in the same run. Each process counts what finishes
 * inside a window that opens at the same moment for all of them.
 */
import { loadWorkflowDir, WorkflowRegistry } from "../../src/engine/registry.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { CpuShare } from "../lib/cpu.ts";
import { peakSize } from "../lib/files.ts";
import { openPlain } from "../lib/sqlite.ts";
import { shares, sum } from "../lib/stats.ts";
import { wallNow } from "../workflows/_probe.ts";
import type { DroneBench } from "./context.ts";
import { BENCH_WORKFLOWS, type DroneResult, type RawResult } from "./worker.ts";

/** Time for the processes to start, load the engine and open the database before the drones start. */
const START_DELAY_MS = 1_500;
/** The drones run this long before the counting window opens (JIT, first claims). */
export const WARMUP_MS = 500;
/** Throughput tasks: runs of RUN_SIZE tasks in CHAINS parallel chains (task i after task i − CHAINS). */
export const RUN_SIZE = 1_000;
export const CHAINS = 20;
/** The claim lease of the throughput drones (`farcaster worker`'s default); no heartbeat falls in the window. */
export const THROUGHPUT_LEASE_MS = 30_000;
/**
 * Every task takes at least two write transactions (its step, its completion)
 * besides its share of a claim, each at least one raw transaction: so the
 * drones can never finish more than raw / 2 tasks a second. Supply that many
 * for the whole time they run, and a claim that comes back short flags it.
 */
const MIN_WRITES_PER_TASK = 2;
const SUPPLY_SLACK_MS = 300;
const SUPPLY_HEADROOM = 1.5;
const WRITES = ["claimTasks", "recordStep", "completeTask", "extendLease", "releaseTask", "failTask"];

export interface ThroughputRow {
  kind: "raw" | "drone";
  procs: number;
  perSecond: number;
  counts: number[];
  /** Each process's count as a multiple of its fair share. */
  shares: number[];
  /** raw: mean µs per transaction. drone: mean µs per store call of each kind, and calls per task. */
  txUs?: number;
  perTask?: Record<string, { callsPerTask: number; us: number }>;
  writesPerTask?: number;
  supply?: number;
  /** drone: the longest a 10 ms timer waited in any drone process (heartbeats and timeouts are timers). */
  maxTimerGapMs?: number;
  /** drone: the largest size of the WAL file during the measurement. */
  peakWalBytes?: number;
  /** drone: CPU time of the drone processes in the window, per task that succeeded. */
  cpuUsPerTask?: number;
  cpu: CpuShare;
  void?: string;
}

export interface ThroughputSettings {
  seconds: number;
  concurrency: number;
}

/** raw × 1, raw × 4, drone × 1, drone × 4, each with a supply sized from what came before. */
export async function measureThroughput(bench: DroneBench, settings: ThroughputSettings): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  rows.push(await raw(bench, 1, settings));
  rows.push(await raw(bench, 4, settings));
  const ceiling = Math.max(...rows.map((r) => r.perSecond));
  const taskSeconds = (WARMUP_MS + SUPPLY_SLACK_MS) / 1000 + settings.seconds;
  const one = await drones(bench, 1, wholeRuns((ceiling / MIN_WRITES_PER_TASK) * taskSeconds), settings);
  rows.push(one);
  // Four processes cannot do more than one would on every CPU; claims that come back short would flag it.
  const four = wholeRuns(one.perSecond * Math.min(4, navigator.hardwareConcurrency) * SUPPLY_HEADROOM * taskSeconds);
  rows.push(await drones(bench, 4, four, settings));
  return rows;
}

export function findRow(rows: ThroughputRow[], kind: ThroughputRow["kind"], procs: number): ThroughputRow {
  return rows.find((r) => r.kind === kind && r.procs === procs)!;
}

async function raw(bench: DroneBench, procs: number, { seconds }: ThroughputSettings): Promise<ThroughputRow> {
  await bench.quiet();
  const path = bench.dir.file(`raw-${procs}.db`);
  const db = openPlain(path);
  db.run("CREATE TABLE writes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  db.close();
  const startAt = wallNow() + START_DELAY_MS;
  const endAt = startAt + seconds * 1000;
  const cpu = bench.meter.start();
  const results = await Promise.all(Array.from({ length: procs }, () => bench.runWorker<RawResult>({ mode: "raw", db: path, startAt, endAt })));
  const counts = results.map((r) => r.count);
  const total = sum(counts);
  const row: ThroughputRow = {
    kind: "raw", procs, perSecond: total / seconds, counts, shares: shares(counts),
    txUs: sum(results.map((r) => r.txUs * r.count)) / total, cpu: cpu(),
  };
  if (results.some((r) => r.late)) row.void = "a process started after the window opened";
  bench.progress(`raw SQLite × ${procs}: ${Math.round(row.perSecond)} txn/s`);
  return row;
}

/** One database with `supply` bench-noop tasks in chains, then `procs` drone processes over it. */
async function drones(bench: DroneBench, procs: number, supply: number, { seconds, concurrency }: ThroughputSettings): Promise<ThroughputRow> {
  const path = bench.dir.file(`drone-${procs}.db`);
  const store = new SqliteStore(path);
  const registry = new WorkflowRegistry();
  await loadWorkflowDir(registry, BENCH_WORKFLOWS);
  const tasks = Array.from({ length: RUN_SIZE }, (_, i) => ({
    id: `t${i}`, title: `task ${i}`, workflow: "bench-noop", input: { steps: 1 }, after: i < CHAINS ? [] : [`t${i - CHAINS}`],
  }));
  const plan = registry.checkPlan({ goal: "drone throughput", tasks }).plan;
  for (let created = 0; created < supply; created += RUN_SIZE) await store.createRun(plan);
  await store.close();

  await bench.quiet();
  const droneStartAt = wallNow() + START_DELAY_MS;
  const startAt = droneStartAt + WARMUP_MS;
  const endAt = startAt + seconds * 1000;
  const cpu = bench.meter.start();
  const wal = peakSize(`${path}-wal`);
  const results = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      bench.runWorker<DroneResult>({ mode: "drone", db: path, id: `drone-${i}`, concurrency, leaseMs: THROUGHPUT_LEASE_MS, droneStartAt, startAt, endAt }),
    ),
  );
  const counts = results.map((r) => r.count);
  const total = sum(counts);
  const perTask: Record<string, { callsPerTask: number; us: number }> = {};
  for (const op of new Set(results.flatMap((r) => Object.keys(r.ops)))) {
    const calls = sum(results.map((r) => r.ops[op]?.calls ?? 0));
    const ms = sum(results.map((r) => r.ops[op]?.ms ?? 0));
    perTask[op] = { callsPerTask: calls / total, us: (ms / calls) * 1000 };
  }
  const row: ThroughputRow = {
    kind: "drone", procs, perSecond: total / seconds, counts, shares: shares(counts), perTask, supply,
    writesPerTask: sum(WRITES.map((op) => perTask[op]?.callsPerTask ?? 0)),
    maxTimerGapMs: Math.max(...results.map((r) => r.maxTimerGapMs)), peakWalBytes: wal.stop(), cpu: cpu(),
    cpuUsPerTask: (sum(results.map((r) => r.cpuMs)) / total) * 1000,
  };
  if (results.some((r) => r.late)) row.void = "a drone started late";
  else if (results.some((r) => r.shortClaims > 0)) row.void = `the supply of ${supply} tasks ran low (claims came back short)`;
  for (const r of results) for (const p of r.problems) bench.problems.push(`drone ${r.id}: ${p}`);
  bench.progress(`drone × ${procs}: ${Math.round(row.perSecond)} tasks/s`);
  return row;
}

function wholeRuns(tasks: number): number {
  return Math.max(1, Math.ceil(tasks / RUN_SIZE)) * RUN_SIZE;
}
