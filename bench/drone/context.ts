/**
 * What every drone measurement shares: a temp directory, the processes it
 * started, a CPU meter for "others' CPU", the problems seen on the way, and
 * --wait-quiet. One per benchmark run (bench/drone.ts, bench/latency.ts).
 */
import { join } from "node:path";
import { cpuMeter, waitForQuiet, type CpuMeter } from "../lib/cpu.ts";
import { tempDir, type TempDir } from "../lib/files.ts";
import { Children, firstLines } from "../lib/procs.ts";
import type { WorkerJob } from "./worker.ts";

const WORKER = join(import.meta.dir, "worker.ts");

export interface DroneBench {
  dir: TempDir;
  children: Children;
  meter: CpuMeter;
  /** Things that went wrong without stopping the benchmark; printed under the table. */
  problems: string[];
  progress(message: string): void;
  /** With --wait-quiet: waits until other processes leave the machine alone (lib/cpu.ts). */
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
      const problem = await waitForQuiet(meter, options.waitQuietMs, progress);
      if (problem) problems.push(problem);
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
