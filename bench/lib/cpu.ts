/**
 * How much of the machine other processes used during a measurement: the
 * busy time of all CPUs (/proc/stat, without interrupts) minus the CPU time of
 * this process, of the children it started and waited for, and of kernel
 * threads (writeback and journaling work for our own writes, mostly). On a
 * shared 2-core machine a neighbour's compile or test run changes every number
 * here; this says when. Linux only: elsewhere the share is null.
 */
import type { Subprocess } from "bun";
import { existsSync, readdirSync, readFileSync } from "node:fs";

export interface CpuShare {
  /** Others' busy time as a share of all CPUs over the measurement (0..1), or null where /proc/stat is missing. */
  others: number | null;
  /** This benchmark's processes, the same way. */
  ours: number;
}

const USER_HZ_MS = 10; // /proc/stat counts in 1/100 s

/** Busy time of all CPUs so far (every process, the hypervisor's steal; kernel threads left out), or null where /proc/stat is missing. */
export function busyMs(): number | null {
  if (!existsSync("/proc/stat")) return null;
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: processes' time, and time the hypervisor gave to others.
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
  return (user + nice + system + steal) * USER_HZ_MS - kernelThreadsMs();
}

/** CPU time of kernel threads (children of kthreadd, pid 2), which live for the whole measurement. */
function kernelThreadsMs(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // After "pid (comm) ": state ppid … utime stime are fields 0, 1, … 11, 12.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (pid === "2" || fields[1] === "2") ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * USER_HZ_MS;
}

function ownMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Tracks the CPU time of exited children; `start()` brackets one measurement. */
export function cpuMeter() {
  let childrenMs = 0;
  const cpus = navigator.hardwareConcurrency;
  return {
    /** Call once a child has exited. */
    exited(child: Subprocess): void {
      const usage = child.resourceUsage();
      if (usage) childrenMs += Number(usage.cpuTime.total) / 1000;
    },
    start(): () => CpuShare {
      const wall0 = performance.now();
      const busy0 = busyMs();
      const ours0 = ownMs() + childrenMs;
      return () => {
        const wall = (performance.now() - wall0) * cpus;
        const busy1 = busyMs();
        const ours = ownMs() + childrenMs - ours0;
        const others = busy0 === null || busy1 === null ? null : Math.max(0, busy1 - busy0 - ours) / wall;
        return { others, ours: ours / wall };
      };
    },
  };
}

export type CpuMeter = ReturnType<typeof cpuMeter>;

/** Others' share of the machine below which a measurement may start (--wait-quiet). */
export const QUIET_SHARE = 0.1;

/**
 * --wait-quiet: waits, up to `waitMs`, until other processes use less than
 * QUIET_SHARE of the machine for a second. Returns a problem to report when
 * they never did, else null.
 */
export async function waitForQuiet(meter: CpuMeter, waitMs: number, progress: (message: string) => void): Promise<string | null> {
  if (waitMs <= 0) return null;
  const deadline = performance.now() + waitMs;
  for (;;) {
    const stop = meter.start();
    await Bun.sleep(1_000);
    const { others } = stop();
    if (others === null || others < QUIET_SHARE) return null;
    const share = `${Math.round(others * 100)}%`;
    if (performance.now() > deadline) return `other processes still used ${share} of the machine after --wait-quiet ${waitMs / 1000}`;
    progress(`waiting for a quiet machine: other processes use ${share} of it`);
  }
}
