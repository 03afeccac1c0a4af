/** What was measured on: the machine, the Bun, the commit. */
import { cpus, loadavg } from "node:os";

export interface Machine {
  cpus: number;
  model: string;
  bun: string;
  platform: string;
  /** At the start of the benchmark: a busy machine disturbs every number. */
  loadAverage: number[];
}

export function machine(): Machine {
  return {
    cpus: navigator.hardwareConcurrency,
    model: cpus()[0]?.model ?? "unknown",
    bun: Bun.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: loadavg(),
  };
}

export function describeMachine(m: Machine): string {
  return `bun ${m.bun}, ${m.cpus} CPUs (${m.model}), ${m.platform}; load average at start ${m.loadAverage.map((x) => x.toFixed(2)).join(" ")}`;
}

/** The commit of the checkout at `dir`, and whether src/ or migrations/ had uncommitted changes there. */
export function commitInfo(dir: string): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: dir, stderr: "ignore" });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.exitCode !== 0) return "unknown";
  const dirty = git("status", "--porcelain", "--", "src", "migrations").stdout.toString().trim().split("\n").filter(Boolean).length;
  return `${head.stdout.toString().trim()}${dirty > 0 ? ` + uncommitted changes in ${dirty} file(s) under src/ or migrations/` : ""}`;
}
