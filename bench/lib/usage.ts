/**
 * What running processes use, read from /proc (Linux): CPU time (user + sys,
 * all threads), bytes passed to write(2)-family calls (`wchar`: WAL appends,
 * checkpoint copies into the database file, anything else the process
 * writes), and resident memory. A UsageTrack samples a set of processes over
 * time and answers for any window inside the samples by interpolating between
 * them, so a window read afterwards from a database (first task start → last
 * task finish) gets the usage of that window, without process start-up,
 * planning or shutdown. Elsewhere than Linux every reading is null.
 */
import { existsSync, readFileSync } from "node:fs";

export interface Usage {
  cpuMs: number;
  writtenBytes: number;
  rssBytes: number;
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
    return { cpuMs, writtenBytes, rssBytes };
  } catch {
    return null; // exited meanwhile
  }
}

export interface WindowUsage {
  /** Summed over the processes, for the window. */
  cpuMs: number;
  writtenBytes: number;
  /** The largest resident set any one of them had in a sample inside the window. */
  peakRssBytes: number;
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
    for (const series of this.samples.values()) {
      cpuMs += at(series, to, "cpuMs") - at(series, from, "cpuMs");
      writtenBytes += at(series, to, "writtenBytes") - at(series, from, "writtenBytes");
      for (const s of series) if (s.at >= from && s.at <= to) peakRssBytes = Math.max(peakRssBytes, s.rssBytes);
    }
    return { cpuMs, writtenBytes, peakRssBytes };
  }
}

/** A counter's value at `t`, linear between the samples around it (the nearest one outside them). */
function at(series: Sample[], t: number, key: "cpuMs" | "writtenBytes"): number {
  const after = series.findIndex((s) => s.at >= t);
  if (after === -1) return series.at(-1)![key];
  if (after === 0) return series[0]![key];
  const a = series[after - 1]!;
  const b = series[after]!;
  return a[key] + ((b[key] - a[key]) * (t - a.at)) / (b.at - a.at);
}
