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
 * Each measurement runs in fresh processes on its own database file in a temp
 * directory, removed at the end. Prints one table (or --json) and exits 0: it
 * is a report, not a test.
 *
 * Each row says how much of the machine other processes used meanwhile; on a
 * shared machine, --wait-quiet N waits (up to N s) before each measurement
 * until they use less than 10% of it for a second.
 *
 * usage: bun run bench/drone.ts [--seconds 4] [--concurrency 8] [--handoffs 250] [--hold 20]
 *                               [--repeats 3] [--lease 2s] [--wait-quiet 0] [--json]
 */
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../src/core/duration.ts";
import { loadWorkflowDir, WorkflowRegistry } from "../src/engine/registry.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import type { DroneResult, HandoffResult, RawResult, StepsResult, WorkerJob } from "./drone-worker.ts";
import { BENCH_WORKFLOWS, openPlain } from "./drone-worker.ts";
import { cpuMeter, type CpuShare } from "./drone-cpu.ts";
import type { CrashMark } from "./workflows/crash.ts";
import { wallNow } from "./workflows/_probe.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "8" },
    handoffs: { type: "string", default: "250" },
    hold: { type: "string", default: "20" },
    repeats: { type: "string", default: "3" },
    lease: { type: "string", default: "2s" },
    "wait-quiet": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const seconds = positive("--seconds", values.seconds);
const concurrency = Math.round(positive("--concurrency", values.concurrency));
const handoffs = Math.round(positive("--handoffs", values.handoffs));
const holdMs = positive("--hold", values.hold);
const repeats = Math.round(positive("--repeats", values.repeats));
const waitQuietMs = Number(values["wait-quiet"]) * 1000;
if (!(waitQuietMs >= 0)) throw new Error(`--wait-quiet must be a number of seconds (got ${values["wait-quiet"]})`);
const crashLeaseMs = parseDuration(values.lease!) ?? NaN;
if (!(crashLeaseMs > 0)) throw new Error(`--lease must be a duration such as 2s (got ${values.lease})`);

const WORKER = join(import.meta.dir, "drone-worker.ts");
const ENTRY = join(import.meta.dir, "..", "farcaster.ts");
/** Time for the processes to start, load the engine and open the database before the drones start. */
const START_DELAY_MS = 1_500;
/** The drones run this long before the counting window opens (JIT, first claims). */
const WARMUP_MS = 500;
/** Throughput tasks: runs of RUN_SIZE tasks in CHAINS parallel chains (task i after task i − CHAINS). */
const RUN_SIZE = 1_000;
const CHAINS = 20;
/** The claim lease of the throughput drones (`farcaster worker`'s default); no heartbeat falls in the window. */
const THROUGHPUT_LEASE_MS = 30_000;
/**
 * Every task takes at least two write transactions (its step, its completion)
 * besides its share of a claim, each at least one raw transaction: so the
 * drones can never finish more than raw / 2 tasks a second. Supply that many
 * for the whole time they run, and a claim that comes back short flags it.
 */
const MIN_WRITES_PER_TASK = 2;
const SUPPLY_SLACK_MS = 300;
const SUPPLY_HEADROOM = 1.5;
const STEPS_PER_TASK = 200;
const STEP_PAIRS = 40;
const STEP_WARMUP_PAIRS = 5;
const RAW_TXS_IN_STEP_PROCESS = 3_000;
const HANDOFF_WARMUP = 30;
/** Crash recovery: how long the victim runs the task before the kill, then spread over one heartbeat period. */
const KILL_AFTER_MS = 1_500;
const CRASH_WAIT_MS = 20_000;
/** --wait-quiet: others' share of the machine below which a measurement may start. */
const QUIET_SHARE = 0.1;

interface ThroughputRow {
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

interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

interface CrashRepeat {
  recoveryMs: number;
  /** lease_expires_at − kill: what the lease still had to run. */
  leaseLeftMs: number;
  /** First step again − lease expiry: the wait for the idle drone's next poll, then its claim and start. */
  afterExpiryMs: number;
  /** The task.lease_expired event (whole ms) − lease expiry. */
  reclaimEventAfterExpiryMs: number | null;
  victim: string;
  rescuer: string;
}

interface Report {
  machine: { cpus: number; model: string; bun: string; platform: string; loadAverage: number[]; commit: string };
  settings: {
    seconds: number; warmupMs: number; concurrency: number; throughputLeaseMs: number; runSize: number; chains: number;
    stepsPerTask: number; stepPairs: number; handoffs: number; holdMs: number; repeats: number; crashLeaseMs: number;
  };
  throughput: ThroughputRow[];
  ratios: { procs: number; droneOverRaw: number }[];
  steps: {
    perStepUs: number; loopPerStepUs: number; recordStepUs: number; rawTxUs: number; rawTxUsCeiling: number;
    zeroStepTaskMs: Summary; manyStepTaskMs: Summary; cpu: CpuShare;
  };
  dispatch: { holdMs: number; latencyMs: Summary; wakeMs: Summary; claimMs: Summary; startMs: Summary; eventMs: Summary; emptyPolls: number; cpu: CpuShare }[];
  crash: { repeats: CrashRepeat[]; medianMs: number; leaseMs: number; concurrency: number; cpu: CpuShare };
  problems: string[];
  seconds: number;
}

const began = performance.now();
const load = loadavg();
const dir = mkdtempSync(join(tmpdir(), "farcaster-drone-bench-"));
const problems: string[] = [];
const spawned = new Set<Subprocess>();
const meter = cpuMeter();
// Ctrl-C: no drone outlives the benchmark, no temp directory is left behind.
process.on("SIGINT", () => {
  for (const child of spawned) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
});
try {
  const throughput: ThroughputRow[] = [];
  throughput.push(await raw(1));
  throughput.push(await raw(4));
  const ceiling = Math.max(...throughput.map((r) => r.perSecond));
  const taskSeconds = (WARMUP_MS + SUPPLY_SLACK_MS) / 1000 + seconds;
  const one = await drones(1, wholeRuns((ceiling / MIN_WRITES_PER_TASK) * taskSeconds));
  throughput.push(one);
  // Four processes cannot do more than one would on every CPU; claims that come back short would flag it.
  throughput.push(await drones(4, wholeRuns(one.perSecond * Math.min(4, navigator.hardwareConcurrency) * SUPPLY_HEADROOM * taskSeconds)));
  const steps = await stepCost(throughput[0]!);
  const dispatch = await dispatchLatency();
  const crash = await crashRecovery();
  const ratios = [1, 4].map((procs) => ({
    procs,
    droneOverRaw: find(throughput, "drone", procs).perSecond / find(throughput, "raw", procs).perSecond,
  }));
  const report: Report = {
    machine: {
      cpus: navigator.hardwareConcurrency, model: cpus()[0]?.model ?? "unknown", bun: Bun.version, platform: `${process.platform}-${process.arch}`,
      loadAverage: load, commit: commitInfo(),
    },
    settings: {
      seconds, warmupMs: WARMUP_MS, concurrency, throughputLeaseMs: THROUGHPUT_LEASE_MS, runSize: RUN_SIZE, chains: CHAINS,
      stepsPerTask: STEPS_PER_TASK, stepPairs: STEP_PAIRS - STEP_WARMUP_PAIRS, handoffs, holdMs, repeats, crashLeaseMs,
    },
    throughput, ratios, steps, dispatch, crash, problems,
    seconds: (performance.now() - began) / 1000,
  };
  console.log(values.json ? JSON.stringify(report, null, 2) : format(report));
} finally {
  for (const child of spawned) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Processes

async function runWorker<T>(job: WorkerJob): Promise<T> {
  const child = Bun.spawn([process.execPath, WORKER, JSON.stringify(job)], { stdout: "pipe", stderr: "pipe" });
  spawned.add(child);
  const [output, errors, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  spawned.delete(child);
  meter.exited(child);
  if (code !== 0) throw new Error(`a ${job.mode} benchmark process exited with code ${code}:\n${errors}`);
  if (errors.trim()) problems.push(`${job.mode} process stderr: ${errors.trim().split("\n").slice(0, 3).join(" | ")}`);
  return JSON.parse(output) as T;
}

function progress(message: string): void {
  if (!values.json) process.stderr.write(`${message}\n`);
}

/** With --wait-quiet: waits until other processes use less than QUIET_SHARE of the machine for a second. */
async function quiet(): Promise<void> {
  if (waitQuietMs <= 0) return;
  const deadline = performance.now() + waitQuietMs;
  for (;;) {
    const stop = meter.start();
    await Bun.sleep(1_000);
    const { others } = stop();
    if (others === null || others < QUIET_SHARE) return;
    if (performance.now() > deadline) {
      problems.push(`other processes still used ${percent(others)} of the machine after --wait-quiet ${waitQuietMs / 1000}`);
      return;
    }
    progress(`waiting for a quiet machine: other processes use ${percent(others)} of it`);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

async function raw(procs: number): Promise<ThroughputRow> {
  await quiet();
  const path = join(dir, `raw-${procs}.db`);
  const db = openPlain(path);
  db.run("CREATE TABLE writes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  db.close();
  const startAt = wallNow() + START_DELAY_MS;
  const endAt = startAt + seconds * 1000;
  const cpu = meter.start();
  const results = await Promise.all(Array.from({ length: procs }, () => runWorker<RawResult>({ mode: "raw", db: path, startAt, endAt })));
  const counts = results.map((r) => r.count);
  const total = sum(counts);
  const row: ThroughputRow = {
    kind: "raw", procs, perSecond: total / seconds, counts, shares: shares(counts),
    txUs: sum(results.map((r) => r.txUs * r.count)) / total, cpu: cpu(),
  };
  if (results.some((r) => r.late)) row.void = "a process started after the window opened";
  progress(`raw SQLite × ${procs}: ${Math.round(row.perSecond)} txn/s`);
  return row;
}

/** One database with `supply` bench-noop tasks in chains, then `procs` drone processes over it. */
async function drones(procs: number, supply: number): Promise<ThroughputRow> {
  const path = join(dir, `drone-${procs}.db`);
  const store = new SqliteStore(path);
  const registry = new WorkflowRegistry();
  await loadWorkflowDir(registry, BENCH_WORKFLOWS);
  const tasks = Array.from({ length: RUN_SIZE }, (_, i) => ({
    id: `t${i}`, title: `task ${i}`, workflow: "bench-noop", input: { steps: 1 }, after: i < CHAINS ? [] : [`t${i - CHAINS}`],
  }));
  const plan = registry.checkPlan({ goal: "drone throughput", tasks }).plan;
  for (let created = 0; created < supply; created += RUN_SIZE) await store.createRun(plan);
  await store.close();

  await quiet();
  const droneStartAt = wallNow() + START_DELAY_MS;
  const startAt = droneStartAt + WARMUP_MS;
  const endAt = startAt + seconds * 1000;
  const cpu = meter.start();
  const wal = peakSize(`${path}-wal`);
  const results = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      runWorker<DroneResult>({ mode: "drone", db: path, id: `drone-${i}`, concurrency, leaseMs: THROUGHPUT_LEASE_MS, droneStartAt, startAt, endAt }),
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
  const writes = ["claimTasks", "recordStep", "completeTask", "extendLease", "releaseTask", "failTask"];
  const row: ThroughputRow = {
    kind: "drone", procs, perSecond: total / seconds, counts, shares: shares(counts), perTask, supply,
    writesPerTask: sum(writes.map((op) => perTask[op]?.callsPerTask ?? 0)),
    maxTimerGapMs: Math.max(...results.map((r) => r.maxTimerGapMs)), peakWalBytes: wal.stop(), cpu: cpu(),
    cpuUsPerTask: (sum(results.map((r) => r.cpuMs)) / total) * 1000,
  };
  if (results.some((r) => r.late)) row.void = "a drone started late";
  else if (results.some((r) => r.shortClaims > 0)) row.void = `the supply of ${supply} tasks ran low (claims came back short)`;
  for (const r of results) for (const p of r.problems) problems.push(`drone ${r.id}: ${p}`);
  progress(`drone × ${procs}: ${Math.round(row.perSecond)} tasks/s`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// 2. Per-step cost

async function stepCost(raw1: ThroughputRow): Promise<Report["steps"]> {
  await quiet();
  const cpu = meter.start();
  const r = await runWorker<StepsResult>({
    mode: "steps", db: join(dir, "steps.db"), rawDb: join(dir, "steps-raw.db"),
    pairs: STEP_PAIRS, steps: STEPS_PER_TASK, warmupPairs: STEP_WARMUP_PAIRS, rawTxs: RAW_TXS_IN_STEP_PROCESS,
  });
  for (const p of r.problems) problems.push(`steps: ${p}`);
  const zero = summarize(r.attemptMs.zero);
  const many = summarize(r.attemptMs.many);
  const result = {
    perStepUs: ((many.p50 - zero.p50) / STEPS_PER_TASK) * 1000,
    loopPerStepUs: (summarize(r.loopMs).p50 / STEPS_PER_TASK) * 1000,
    recordStepUs: r.recordStepUs,
    rawTxUs: r.rawTxUs,
    rawTxUsCeiling: raw1.txUs ?? 0,
    zeroStepTaskMs: zero,
    manyStepTaskMs: many,
    cpu: cpu(),
  };
  progress(`ctx.step: ${result.perStepUs.toFixed(0)} µs (raw txn ${result.rawTxUs.toFixed(0)} µs)`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// 3. Dispatch latency

async function dispatchLatency(): Promise<Report["dispatch"]> {
  await quiet();
  const meterCpu = meter.start();
  const r = await runWorker<HandoffResult>({ mode: "handoff", db: join(dir, "handoff.db"), concurrency, handoffs, holds: [0, holdMs], warmup: HANDOFF_WARMUP });
  const cpu = meterCpu();
  for (const p of r.problems) problems.push(`dispatch: ${p}`);
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
  for (const row of rows) progress(`dispatch, hold ${row.holdMs} ms: p50 ${row.latencyMs.p50.toFixed(2)} ms, p99 ${row.latencyMs.p99.toFixed(2)} ms`);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 4. Crash recovery, with the real `farcaster worker`

interface CliDrone {
  id: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  ready: Promise<void>;
}

function startCliDrone(db: string, id: string): CliDrone {
  // Not --quiet: the first line ("drone ID: N slots, …") says it is up; the rest is drained.
  const proc = Bun.spawn(
    [process.execPath, ENTRY, "worker", "--db", db, "--workflows", BENCH_WORKFLOWS, "--lease", `${crashLeaseMs}ms`, "--id", id, "--concurrency", String(concurrency)],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  spawned.add(proc);
  const ready = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    let up = false;
    let signalUp: () => void = () => {};
    const upPromise = new Promise<void>((resolve) => (signalUp = resolve));
    void (async () => {
      for await (const chunk of proc.stdout) {
        text += decoder.decode(chunk);
        if (!up && text.includes(" slots")) {
          up = true;
          signalUp();
        }
      }
    })();
    void new Response(proc.stderr).text().then((errors) => {
      if (errors.trim() && !errors.includes("SIGTERM")) problems.push(`worker ${id} stderr: ${errors.trim().split("\n").slice(0, 3).join(" | ")}`);
    });
    await Promise.race([upPromise, proc.exited.then((code) => Promise.reject(new Error(`farcaster worker ${id} exited with code ${code} before starting`)))]);
  })();
  return { id, proc, ready };
}

async function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
}

function readMarks(file: string): CrashMark[] {
  if (!existsSync(file) || statSync(file).size === 0) return [];
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as CrashMark);
}

async function crashRecovery(): Promise<Report["crash"]> {
  const db = join(dir, "crash.db");
  const marks = join(dir, "crash-marks.jsonl");
  const store = new SqliteStore(db);
  const registry = new WorkflowRegistry();
  await loadWorkflowDir(registry, BENCH_WORKFLOWS);
  const live: CliDrone[] = [];
  let named = 0;
  const results: CrashRepeat[] = [];
  await quiet();
  const cpu = meter.start();
  try {
    for (let i = 0; i < repeats; i++) {
      while (live.length < 2) live.push(startCliDrone(db, `crash-${named++}`));
      await Promise.all(live.map((d) => d.ready));
      const run = await store.createRun(registry.checkPlan({
        goal: `crash recovery ${i + 1}`,
        tasks: [{ id: "long", title: "a long first attempt", workflow: "bench-crash", input: { file: marks, holdMs: 60_000 } }],
      }).plan);
      const taskId = (await store.findTask(run.id, "long")).id;
      const first = await until(() => readMarks(marks).find((m) => m.taskId === taskId), CRASH_WAIT_MS, "a drone starting the long task");
      const victim = live.find((d) => d.id === first.worker);
      if (!victim) throw new Error(`the long task runs on ${first.worker}, which this benchmark did not start`);
      // Kill at spread-out points of the heartbeat period (a third of the lease), the same points every run.
      const offset = ((crashLeaseMs / 3) * i) / repeats;
      await Bun.sleep(Math.max(0, first.at + KILL_AFTER_MS + offset - wallNow()));
      const killedAt = wallNow();
      victim.proc.kill("SIGKILL");
      await victim.proc.exited;
      spawned.delete(victim.proc);
      meter.exited(victim.proc);
      live.splice(live.indexOf(victim), 1);
      // Nothing renews the lease any more: its expiry is final until the reclaim clears it.
      const leaseExpiresAt = (await store.getTask(taskId)).leaseExpiresAt;
      const again = await until(() => readMarks(marks).find((m) => m.taskId === taskId && m.attempt > first.attempt), CRASH_WAIT_MS, "the task running again");
      await until(async () => ((await store.getRun(run.id)).state === "succeeded" ? true : undefined), CRASH_WAIT_MS, "the recovered task finishing");
      const expired = (await store.listEvents({ runId: run.id })).find((e) => e.type === "task.lease_expired");
      if (leaseExpiresAt === null) problems.push(`crash ${i + 1}: the task had no lease right after the kill`);
      const expiry = leaseExpiresAt ?? killedAt;
      results.push({
        recoveryMs: again.at - killedAt,
        leaseLeftMs: expiry - killedAt,
        afterExpiryMs: again.at - expiry,
        reclaimEventAfterExpiryMs: expired && leaseExpiresAt !== null ? expired.at - leaseExpiresAt : null,
        victim: first.worker,
        rescuer: again.worker,
      });
      progress(`crash ${i + 1}: back after ${(results.at(-1)!.recoveryMs / 1000).toFixed(2)} s`);
    }
  } finally {
    for (const d of live) d.proc.kill("SIGTERM");
    await Promise.all(live.map((d) => d.proc.exited));
    for (const d of live) {
      spawned.delete(d.proc);
      meter.exited(d.proc);
    }
    await store.close();
  }
  return { repeats: results, medianMs: median(results.map((r) => r.recoveryMs)), leaseMs: crashLeaseMs, concurrency, cpu: cpu() };
}

// ---------------------------------------------------------------------------------------------
// Numbers and the table

/** Samples a file's size until stopped and returns the largest seen (as bench/store.ts does for the WAL). */
function peakSize(path: string): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, statSync(path).size);
    } catch {
      // not created yet, or removed by the last connection's close
    }
  }, 25);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The commit measured, and whether src/ had uncommitted changes (the store is being worked on). */
function commitInfo(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: join(import.meta.dir, "..") });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.exitCode !== 0) return "unknown";
  const dirty = git("status", "--porcelain", "--", "src", "migrations").stdout.toString().trim().split("\n").filter(Boolean).length;
  return `${head.stdout.toString().trim()}${dirty > 0 ? ` + uncommitted changes in ${dirty} file(s) under src/ or migrations/` : ""}`;
}

function find(rows: ThroughputRow[], kind: ThroughputRow["kind"], procs: number): ThroughputRow {
  return rows.find((r) => r.kind === kind && r.procs === procs)!;
}

function sum(numbers: number[]): number {
  return numbers.reduce((a, b) => a + b, 0);
}

function shares(counts: number[]): number[] {
  const total = sum(counts);
  return counts.map((c) => (total === 0 ? 0 : c / (total / counts.length)));
}

/** Nearest-rank percentile of an unsorted sample. */
function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function median(sample: number[]): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

function summarize(sample: number[]): Summary {
  return {
    n: sample.length,
    p50: median(sample),
    p90: percentile(sample, 0.9),
    p99: percentile(sample, 0.99),
    max: sample.length === 0 ? NaN : Math.max(...sample),
    mean: sample.length === 0 ? NaN : sum(sample) / sample.length,
  };
}

function wholeRuns(tasks: number): number {
  return Math.max(1, Math.ceil(tasks / RUN_SIZE)) * RUN_SIZE;
}

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} must be a positive number (got ${value})`);
  return number;
}

function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

function percent(share: number | null): string {
  return share === null ? "n/a" : `${Math.round(share * 100)}%`;
}

function format(report: Report): string {
  const { machine: m, settings: s } = report;
  const rows: string[][] = [];
  for (const t of report.throughput) {
    const rawRow = find(report.throughput, "raw", t.procs);
    const flag = t.void ? ` (VOID: ${t.void})` : "";
    const spread = `shares of fair ${t.shares.map((x) => fixed(x, 2)).join(" ")}`;
    if (t.kind === "raw") {
      rows.push(["1", `raw SQLite: 1-row write txn${flag}`, String(t.procs), int(t.perSecond), "txn/s", "1.00×", percent(t.cpu.others),
        `${fixed(t.txUs ?? 0, 0)} µs/txn incl. lock waits; ${spread}`]);
      continue;
    }
    const call = (name: string) => fixed(t.perTask?.[name]?.us ?? NaN, 0);
    const reads = sum(["listSteps", "dependencyOutputs", "getRun"].map((name) => t.perTask?.[name]?.callsPerTask ?? 0));
    const claims = t.perTask?.claimTasks?.callsPerTask ?? 0;
    rows.push(["1", `drone: claim → 1 no-op step → complete${flag}`, String(t.procs), int(t.perSecond), "tasks/s",
      `${fixed(t.perSecond / rawRow.perSecond, 3)}×`, percent(t.cpu.others),
      `${fixed(t.cpuUsPerTask ?? NaN, 0)} µs CPU per task; ${fixed(t.writesPerTask ?? 0, 2)} write txns + ${fixed(reads, 1)} reads per task, ${fixed(claims > 0 ? 1 / claims : NaN, 1)} tasks/claim; ` +
        `wall µs per call incl. waits: claim ${call("claimTasks")}, step ${call("recordStep")}, complete ${call("completeTask")}, journal read ${call("listSteps")}; ` +
        `${spread}; timers late by up to ${fixed(t.maxTimerGapMs ?? NaN, 0)} ms; peak WAL ${fixed((t.peakWalBytes ?? 0) / 1e6, 1)} MB`]);
  }
  const st = report.steps;
  rows.push(["2", `ctx.step of a no-op fn: (${s.stepsPerTask}-step task − 0-step task) / ${s.stepsPerTask}`, "1", fixed(st.perStepUs, 0), "µs/step",
    `${fixed(st.perStepUs / st.rawTxUs, 2)}× txn`, percent(st.cpu.others),
    `in the workflow's loop ${fixed(st.loopPerStepUs, 0)} µs/step, of which store.recordStep ${fixed(st.recordStepUs, 0)} µs (mean); ` +
      `raw txn ${fixed(st.rawTxUs, 0)} µs in the same process (${fixed(st.rawTxUsCeiling, 0)} µs in row 1); ` +
      `task p50 ${fixed(st.zeroStepTaskMs.p50, 2)} ms with 0 steps, ${fixed(st.manyStepTaskMs.p50, 1)} ms (p90 ${fixed(st.manyStepTaskMs.p90, 1)}) with ${s.stepsPerTask}`]);
  for (const d of report.dispatch) {
    rows.push(["3", `dispatch: dep's completeTask returns → dependent's step begins, ${d.holdMs === 0 ? "tasks back to back" : `each task holds ${d.holdMs} ms`}`, "1",
      `${fixed(d.latencyMs.p50, 2)} / ${fixed(d.latencyMs.p99, 2)}`, "ms p50 / p99", "", percent(d.cpu.others),
      `n=${d.latencyMs.n}, max ${fixed(d.latencyMs.max, 2)} ms; p50 parts: wake ${fixed(d.wakeMs.p50, 3)} + claim ${fixed(d.claimMs.p50, 2)} + attempt start ${fixed(d.startMs.p50, 2)} ms; ` +
        `${d.emptyPolls} empty idle polls during the chain; events table (whole ms) p50 / p99 ${fixed(d.eventMs.p50, 0)} / ${fixed(d.eventMs.p99, 0)} ms`]);
  }
  const c = report.crash;
  const list = (pick: (r: CrashRepeat) => number) => c.repeats.map((r) => fixed(pick(r) / 1000, 2)).join(", ");
  rows.push(["4", `crash recovery: SIGKILL → the task's step runs again on the idle drone (lease ${c.leaseMs / 1000} s)`, "2",
    fixed(c.medianMs / 1000, 2), "s, median", "", percent(c.cpu.others),
    `each run: ${list((r) => r.recoveryMs)} s = lease left at the kill (${list((r) => r.leaseLeftMs)} s) + from expiry to the step (${list((r) => r.afterExpiryMs)} s)`]);

  const othersBusy = [...report.throughput.map((t) => t.cpu.others), st.cpu.others, ...report.dispatch.map((d) => d.cpu.others), c.cpu.others]
    .filter((x): x is number => x !== null);
  const lines = [
    `Farcaster drone benchmark — bun ${m.bun}, ${m.cpus} CPUs (${m.model}), ${m.platform}; commit ${m.commit}; ` +
      `load average at start ${m.loadAverage.map((x) => x.toFixed(2)).join(" ")}; ${fixed(report.seconds, 1)} s in all`,
    "",
    table(["#", "measurement", "procs", "value", "unit", "vs raw", "others' CPU", "detail"], rows),
    "",
    "Notes:",
    `- 1: each process counts the tasks that succeed in a ${s.seconds} s window opened ${s.warmupMs} ms after its drone started. The drones run in bench/drone-worker.ts ` +
      `(a Drone built as \`farcaster worker\` builds it, over a store wrapper that times its calls), ${s.concurrency} slots each, claim lease ${s.throughputLeaseMs / 1000} s. ` +
      `Tasks: runs of ${s.runSize} bench-noop tasks in ${s.chains} parallel chains, so each completion makes one task ready. ` +
      "Raw ceiling: BEGIN IMMEDIATE; INSERT one row; COMMIT (WAL, synchronous=NORMAL, default autocheckpoint, the store's lock retry).",
    `- 2: one drone with 1 slot runs ${s.stepPairs} measured pairs of independent tasks (0 steps, ${s.stepsPerTask} steps), interleaved, after warm-up pairs; medians.`,
    `- 3: one drone (${s.concurrency} slots, default idle back-off: 10 ms doubling to 1 s) runs two chains of ${s.handoffs + 1} one-step tasks; ` +
      "completeTask's return and the first step's start are performance.now() marks in that process. Empty idle polls show the back-off was in effect.",
    `- 4: two \`farcaster worker --lease ${c.leaseMs / 1000}s --concurrency ${c.concurrency}\` processes; the one that claims the long task is killed ${KILL_AFTER_MS / 1000} s after its step began ` +
      `(plus a step across one heartbeat period from run to run); a fresh one replaces it afterwards. Expected: the lease left at the kill ` +
      `(${fixed((c.leaseMs * 2) / 3 / 1000, 2)}–${fixed(c.leaseMs / 1000, 2)} s, heartbeats renew every third of the lease) + up to one idle poll (1 s at full back-off).`,
    "- others' CPU: the share of all CPUs that other processes used during the measurement (/proc/stat, less this benchmark's processes and kernel threads); " +
      "above ~10% the numbers are disturbed.",
  ];
  if (Math.max(0, ...othersBusy) > 0.1) lines.push(`- WARNING: other processes used up to ${percent(Math.max(...othersBusy))} of the machine during a measurement; rerun on a quiet machine.`);
  for (const p of report.problems) lines.push(`- problem: ${p}`);
  return lines.join("\n");
}

/** A markdown table with padded columns, readable as plain text too. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
