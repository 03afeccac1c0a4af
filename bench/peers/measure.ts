/**
 * One measurement of bench/peers.ts: one contender, one shape, a fresh
 * database. The contender prepares the database with all the work; then its
 * worker processes start, and this process polls the database read-only every
 * POLL_MS until the contender says every task is done, sampling the workers'
 * CPU time, bytes written and memory from /proc as it goes; then the workers
 * get SIGTERM. The measured window is the contender's own record of its first
 * task start and its last task finish; CPU and bytes are those of the
 * workers inside that window, so process start-up, planning and shutdown do
 * not count.
 */
import { Database } from "bun:sqlite";
import type { Subprocess } from "bun";
import { rmSync } from "node:fs";
import type { CpuMeter } from "../lib/cpu.ts";
import { Children, firstLines } from "../lib/procs.ts";
import { UsageTrack } from "../lib/usage.ts";
import { wallNow } from "../workflows/_probe.ts";
import type { Shape } from "./shapes.ts";

const POLL_MS = 10;
/** A measurement that has not finished by then has failed (a worker hangs, a task never becomes ready). */
const TIMEOUT_MS = 10 * 60_000;
/** After SIGTERM, how long a worker may take to exit before it is killed. */
const STOP_WAIT_MS = 15_000;

export interface Span {
  /** Epoch ms: the first task's start, the last task's finish. */
  from: number;
  to: number;
  /** Tasks the contender finished in the window. */
  tasks: number;
}

/** A contender's database, ready for its workers. */
export interface Prepared {
  workerCommand(index: number): string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** True once every task is done; throws when the work failed. `db` is read-only. */
  done(db: Database): boolean;
  /** The window, once done: from the database, or from what the workers printed (their stdout). */
  span(db: Database, outputs: string[]): Span;
  /** Lines of worker stderr that are expected (a stop message), not problems. */
  expected?: (line: string) => boolean;
  /** When set, the first worker starts alone and the others once this resolves (the first one hosts the file). */
  firstWorkerReady?: () => Promise<void>;
}

export interface Contender {
  /** Short name in the table: farcaster, farcaster-b, plainjob. */
  name: string;
  /** What exactly runs (version, commit, path), for the header. */
  description: string;
  prepare(shape: Shape, tasks: number, db: string): Promise<Prepared>;
}

export interface Measurement {
  contender: string;
  shape: string;
  round: number;
  tasks: number;
  seconds: number;
  perSecond: number;
  /** Worker processes' user + sys CPU in the window, per task; null without /proc. */
  cpuUsPerTask: number | null;
  /** Bytes the worker processes passed to write calls in the window, per task; null without /proc. */
  bytesWrittenPerTask: number | null;
  /** The largest resident set of one worker process sampled in the window. */
  peakRssBytes: number | null;
  /** The largest resident set of one worker process over its whole life (rusage after exit). */
  maxRssBytes: number;
  /** Worker processes' CPU over their whole life (start-up, planning and shutdown included). */
  lifetimeCpuMs: number;
  /** Share of the machine other processes used meanwhile (see lib/cpu.ts). */
  others: number | null;
  /**
   * The worker main thread that ran the most in the window: the share of the
   * window it ran and the share it was ready but waited for a CPU; null
   * without schedstat. With several Farcaster workers on one file it is the
   * store host's, which applies every worker's writes.
   */
  busiestMain: { running: number; waiting: number } | null;
}

export interface MeasureContext {
  children: Children;
  meter: CpuMeter;
  problems: string[];
}

type Worker = Subprocess<"ignore", "pipe", "pipe">;

export async function measure(ctx: MeasureContext, contender: Contender, shape: Shape, tasks: number, path: string, round: number): Promise<Measurement> {
  const prepared = await contender.prepare(shape, tasks, path);
  const cpu = ctx.meter.start();
  const start = (i: number): Worker =>
    ctx.children.spawn(() => Bun.spawn(prepared.workerCommand(i), { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: prepared.env, cwd: prepared.cwd }));
  const workers: Worker[] = [start(0)];
  if (shape.workers > 1 && prepared.firstWorkerReady) await prepared.firstWorkerReady();
  for (let i = 1; i < shape.workers; i++) workers.push(start(i));
  const outputs = workers.map((w) => new Response(w.stdout).text());
  const errors = workers.map((w) => new Response(w.stderr).text());
  let exitedEarly: number | null = null;
  let stopping = false;
  for (const w of workers) void w.exited.then((code) => (stopping ? undefined : (exitedEarly ??= code)));

  const track = new UsageTrack();
  const pids = workers.map((w) => w.pid);
  const db = new Database(path, { readonly: true });
  try {
    const deadline = performance.now() + TIMEOUT_MS;
    for (;;) {
      track.sample(pids, wallNow());
      if (prepared.done(db)) break;
      if (exitedEarly !== null) {
        const stderr = firstLines((await Promise.all(errors)).join("\n"), 5);
        throw new Error(`${contender.name}, ${shape.id}: a worker exited with code ${exitedEarly} before the work was done: ${stderr}`);
      }
      if (performance.now() > deadline) throw new Error(`${contender.name}, ${shape.id}: not done within ${TIMEOUT_MS / 1000} s`);
      await Bun.sleep(POLL_MS);
    }
    track.sample(pids, wallNow());
    stopping = true;
    await stop(workers);
    const span = prepared.span(db, await Promise.all(outputs));
    if (span.tasks !== tasks) ctx.problems.push(`${contender.name}, ${shape.id}, round ${round}: ${span.tasks} of ${tasks} tasks finished in the window`);
    for (const text of await Promise.all(errors)) {
      const lines = text.split("\n").filter((line) => line.trim() && !prepared.expected?.(line));
      if (lines.length > 0) ctx.problems.push(`${contender.name}, ${shape.id}, round ${round}, worker stderr: ${firstLines(lines.join("\n"))}`);
    }
    const usage = track.window(span.from, span.to);
    const lifetime = workers.map((w) => w.resourceUsage());
    const seconds = (span.to - span.from) / 1000;
    return {
      contender: contender.name, shape: shape.id, round, tasks, seconds, perSecond: tasks / seconds,
      cpuUsPerTask: usage ? (usage.cpuMs * 1000) / tasks : null,
      bytesWrittenPerTask: usage ? usage.writtenBytes / tasks : null,
      peakRssBytes: usage ? usage.peakRssBytes : null,
      maxRssBytes: Math.max(...lifetime.map((u) => u?.maxRSS ?? 0)),
      lifetimeCpuMs: lifetime.reduce((acc, u) => acc + Number(u?.cpuTime.total ?? 0n) / 1000, 0),
      others: cpu().others,
      busiestMain: usage?.busiestMain ? { running: usage.busiestMain.runMs / (seconds * 1000), waiting: usage.busiestMain.waitMs / (seconds * 1000) } : null,
    };
  } finally {
    db.close();
    stopping = true;
    for (const w of workers) w.kill("SIGKILL");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  }
}

/** SIGTERM, then SIGKILL for any worker that has not exited after STOP_WAIT_MS. */
async function stop(workers: Worker[]): Promise<void> {
  for (const w of workers) w.kill("SIGTERM");
  const timer = setTimeout(() => {
    for (const w of workers) w.kill("SIGKILL");
  }, STOP_WAIT_MS);
  await Promise.all(workers.map((w) => w.exited));
  clearTimeout(timer);
}
