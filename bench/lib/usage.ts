/**
 * What running processes use, read from /proc (Linux): CPU time (user + sys,
 * all threads), bytes passed to write(2)-family calls (`wchar`: WAL appends,
 * checkpoint copies into the database file, anything else the process
 * writes), and resident memory. A UsageTrack samples a set of processes over
 * time and answers for any window inside the samples by interpolating between
 * them, so a window read afterwards from a database (first task start → last
 * task finish) gets the usage of that window, without process start-up,
 * planning or shutdown. Elsewhere than Linux every reading is null.
 *
 * Each process's main thread is also read from its schedstat: how long it ran
 * and how long it was ready to run but waited for a CPU. A main thread that
 * waits a large share of the window is the sign of a machine whose cores are
 * all taken (in a Farcaster swarm on one file, the host's main thread applies
 * every process's writes: what it waits, every worker waits).
 */
import { existsSync, readFileSync } from "node:fs";

export interface Usage {
  cpuMs: number;
  writtenBytes: number;
  rssBytes: number;
  /** The main thread's time on a CPU and waiting for one (NaN where the kernel keeps no schedstat). */
  mainRunMs: number;
  mainWaitMs: number;
}

function getconf(name: string, fallback: number): number {
  const out = Bun.spawnSync(["getconf", name], { stderr: "ignore" });
  const value = Number(out.stdout.toString().trim());
  return out.exitCode === 0 && value > 0 ? value : fallback;
}

const HAS_PROC = existsSync("/proc/self/stat");
const TICK_MS = HAS_PROC ? 1000 / getconf("CLK_TCK", 100) : 10;
const PAGE_BYTES = HAS_PROC ? getconf("PAGESIZE", 4096) : 4096;

/** One reading of a live process; null when it has exited (or there is no /proc). */
export function readUsage(pid: number): Usage | null {
  if (!HAS_PROC) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (comm) ": state ppid … utime stime are fields 0, 1, … 11, 12.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuMs = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const writtenBytes = Number(/^wchar:\s*(\d+)/m.exec(io)?.[1] ?? NaN);
    const rssBytes = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * PAGE_BYTES;
    const [runNs, waitNs] = readSchedstat(pid);
    return { cpuMs, writtenBytes, rssBytes, mainRunMs: runNs / 1e6, mainWaitMs: waitNs / 1e6 };
  } catch {
    return null; // exited meanwhile
  }
}

/** /proc/PID/task/PID/schedstat: nanoseconds on a CPU, nanoseconds runnable and waiting (the main thread's TID is the PID). */
function readSchedstat(pid: number): [number, number] {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ");
    return [Number(run), Number(wait)];
  } catch {
    return [NaN, NaN];
  }
}

/** In a window, the main thread that ran the most: how long it ran, how long it waited for a CPU. */
export interface MainThreadUsage {
  pid: number;
  runMs: number;
  waitMs: number;
}

export interface WindowUsage {
  /** Summed over the processes, for the window. */
  cpuMs: number;
  writtenBytes: number;
  /** The largest resident set any one of them had in a sample inside the window. */
  peakRssBytes: number;
  /** The busiest main thread; null without schedstat. */
  busiestMain: MainThreadUsage | null;
}

interface Sample extends Usage {
  at: number;
}

export class UsageTrack {
  private readonly samples = new Map<number, Sample[]>();

  /** Reads each process once, stamped `at` (epoch ms). */
  sample(pids: readonly number[], at: number): void {
    for (const pid of pids) {
      const usage = readUsage(pid);
      if (!usage) continue;
      let series = this.samples.get(pid);
      if (!series) this.samples.set(pid, (series = []));
      series.push({ at, ...usage });
    }
  }

  /** The usage inside [from, to] (epoch ms), or null when no process was sampled. */
  window(from: number, to: number): WindowUsage | null {
    if (this.samples.size === 0) return null;
    let cpuMs = 0;
    let writtenBytes = 0;
    let peakRssBytes = 0;
    let busiestMain: MainThreadUsage | null = null;
    for (const [pid, series] of this.samples) {
      cpuMs += at(series, to, "cpuMs") - at(series, from, "cpuMs");
      const runMs = at(series, to, "mainRunMs") - at(series, from, "mainRunMs");
      if (Number.isFinite(runMs) && (busiestMain === null || runMs > busiestMain.runMs)) {
        busiestMain = { pid, runMs, waitMs: at(series, to, "mainWaitMs") - at(series, from, "mainWaitMs") };
      }
      writtenBytes += at(series, to, "writtenBytes") - at(series, from, "writtenBytes");
      for (const s of series) if (s.at >= from && s.at <= to) peakRssBytes = Math.max(peakRssBytes, s.rssBytes);
    }
    return { cpuMs, writtenBytes, peakRssBytes, busiestMain };
  }
}

/** A counter's value at `t`, linear between the samples around it (the nearest one outside them). */
function at(series: Sample[], t: number, key: "cpuMs" | "writtenBytes" | "mainRunMs" | "mainWaitMs"): number {
  const after = series.findIndex((s) => s.at >= t);
  if (after === -1) return series.at(-1)![key];
  if (after === 0) return series[0]![key];
  const a = series[after - 1]!;
  const b = series[after]!;
  return a[key] + ((b[key] - a[key]) * (t - a.at)) / (b.at - a.at);
}
