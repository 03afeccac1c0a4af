/**
 * What every drone measurement shares: a temp directory, the processes it
 * started, a CPU meter for "others' CPU", the problems seen on the way, and
 * --wait-quiet. One per benchmark run (bench/drone.ts, bench/latency.ts).
 */
import { join } from "node:path";
import { cpuMeter, type CpuMeter } from "../lib/cpu.ts";
import { tempDir, type TempDir } from "../lib/files.ts";
import { Children, firstLines } from "../lib/procs.ts";
import { percent } from "../lib/table.ts";
import type { WorkerJob } from "./worker.ts";

const WORKER = join(import.meta.dir, "worker.ts");
/** --wait-quiet: others' share of the machine below which a measurement may start. */
const QUIET_SHARE = 0.1;

export interface DroneBench {
  dir: TempDir;
  children: Children;
  meter: CpuMeter;
  /** Things that went wrong without stopping the benchmark; printed under the table. */
  problems: string[];
  progress(message: string): void;
  /** With --wait-quiet: waits until other processes use less than QUIET_SHARE of the machine for a second. */
  quiet(): Promise<void>;
  /** Runs one bench/drone/worker.ts process to its end and returns its result. */
  runWorker<T>(job: WorkerJob): Promise<T>;
  close(): void;
}

export function openDroneBench(options: { json: boolean; waitQuietMs: number }): DroneBench {
  const dir = tempDir("farcaster-drone-bench-");
  const meter = cpuMeter();
  const children = new Children((child) => meter.exited(child));
  children.onInterrupt(dir.remove);
  const problems: string[] = [];
  const progress = (message: string) => {
    if (!options.json) process.stderr.write(`${message}\n`);
  };
  return {
    dir, children, meter, problems, progress,
    async quiet() {
      if (options.waitQuietMs <= 0) return;
      const deadline = performance.now() + options.waitQuietMs;
      for (;;) {
        const stop = meter.start();
        await Bun.sleep(1_000);
        const { others } = stop();
        if (others === null || others < QUIET_SHARE) return;
        if (performance.now() > deadline) {
          problems.push(`other processes still used ${percent(others)} of the machine after --wait-quiet ${options.waitQuietMs / 1000}`);
          return;
        }
        progress(`waiting for a quiet machine: other processes use ${percent(others)} of it`);
      }
    },
    async runWorker<T>(job: WorkerJob): Promise<T> {
      const { value, stderr } = await children.json<T>([process.execPath, WORKER, JSON.stringify(job)], `a ${job.mode} benchmark process`);
      if (stderr.trim()) problems.push(`${job.mode} process stderr: ${firstLines(stderr)}`);
      return value;
    },
    close() {
      children.kill();
      dir.remove();
    },
  };
}
