/**
 * Farcaster on PostgreSQL against graphile-worker (tuned) and pg-boss, side
 * by side on the same server, in one run: N jobs whose handler does nothing,
 * with 1 and with 4 worker processes. Farcaster journals every task's step
 * (durable before ctx.step returns) and records every transition; the peers
 * only fetch and complete jobs. See bench/pg/contenders.ts for what runs
 * exactly, bench/pg/measure.ts for the window and the CPU accounting.
 *
 * Method: rounds; in each round every worker count runs every contender once,
 * back to back, the contenders' order rotating from round to round; a fresh
 * schema per measurement, dropped after it. Each round's ratio comes from its
 * own pair; the table shows medians and ranges. PostgreSQL's own time is its
 * processes' CPU; pg_stat_statements' execution time is added when the
 * server has it loaded (shared_preload_libraries).
 *
 * Prints a report (or --json) and exits 0: it is a report, not a test.
 *
 * Farcaster runs at its worker's default slots and the peers at their tuned
 * settings (graphile-worker: 32 at once, a local queue of 100), each as its
 * users would run it; --farcaster-concurrency sets Farcaster's. With
 * --farcaster-b DIR, another checkout's farcaster.ts runs beside, as
 * "farcaster-b", interleaved like the others (an A/B of two commits).
 *
 * usage: bun run bench/pg.ts [--tasks 20000] [--rounds 3] [--drones 1,4] [--contenders farcaster,graphile-worker,pg-boss]
 *                            [--url postgres://postgres@127.0.0.1:5432/test] [--concurrency 32] [--batch 100]
 *                            [--farcaster-concurrency N] [--farcaster-b DIR]
 *                            [--peers DIR] [--wait-quiet 0] [--json]
 */
import { SQL } from "bun";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { choices, count, nonNegative } from "./lib/args.ts";
import { cpuMeter, waitForQuiet } from "./lib/cpu.ts";
import { tempDir } from "./lib/files.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, int, percent, spreadText, table, targetTable, type Target } from "./lib/table.ts";
import { farcaster, graphileWorker, installPeers, pgBoss, type Contender } from "./pg/contenders.ts";
import { measure, type Measurement } from "./pg/measure.ts";

const CONTENDERS = ["farcaster", "graphile-worker", "pg-boss"] as const;
const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    drones: { type: "string", default: "1,4" },
    contenders: { type: "string" },
    url: { type: "string", default: process.env.FARCASTER_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test" },
    concurrency: { type: "string", default: "32" },
    "farcaster-concurrency": { type: "string" },
    "farcaster-b": { type: "string" },
    batch: { type: "string", default: "100" },
    peers: { type: "string", default: join(tmpdir(), "farcaster-bench-pg", "peers") },
    "wait-quiet": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const tasks = count("--tasks", values.tasks);
const rounds = count("--rounds", values.rounds);
const droneCounts = values.drones!.split(",").map((d) => count("--drones", d));
const names = choices("--contenders", values.contenders, CONTENDERS) ?? [...CONTENDERS];
const concurrency = count("--concurrency", values.concurrency);
const farcasterConcurrency = values["farcaster-concurrency"] === undefined ? undefined : count("--farcaster-concurrency", values["farcaster-concurrency"]);
const batch = count("--batch", values.batch);
const waitQuietMs = nonNegative("--wait-quiet", values["wait-quiet"]) * 1000;
const url = values.url!;
const progress = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};

const meter = cpuMeter();
const children = new Children((child) => meter.exited(child));
const scratch = tempDir("farcaster-bench-pg-");
children.onInterrupt(() => scratch.remove());
const admin = new SQL(url, { max: 2 });
const problems: string[] = [];

try {
  const [settings] = await admin.unsafe<{ version: string; preload: string }[]>("SELECT version() AS version, current_setting('shared_preload_libraries') AS preload");
  let statements = false;
  if (settings!.preload.includes("pg_stat_statements")) {
    await admin.unsafe("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    statements = true;
  }
  const node = names.some((n) => n !== "farcaster") ? await installPeers(values.peers!, children, progress) : { node: "", script: "" };
  const all: Contender[] = [
    ...(names.includes("farcaster") ? [farcaster(scratch.path, children, farcasterConcurrency)] : []),
    ...(values["farcaster-b"] ? [farcaster(scratch.path, children, farcasterConcurrency, { name: "farcaster-b", checkout: values["farcaster-b"] })] : []),
    ...(names.includes("graphile-worker") ? [graphileWorker(node, scratch.path, children, concurrency, batch)] : []),
    ...(names.includes("pg-boss") ? [pgBoss(node, scratch.path, children, concurrency, batch)] : []),
  ];
  const results: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const drones of droneCounts) {
      const order = all.map((_, i) => all[(i + round - 1) % all.length]!);
      for (const contender of order) {
        const quiet = await waitForQuiet(meter, waitQuietMs, progress);
        if (quiet) problems.push(`round ${round}, ${contender.name}, ${drones} drone(s): ${quiet}`);
        progress(`round ${round}/${rounds}: ${contender.name}, ${drones} worker process(es), ${tasks} jobs`);
        const m = await measure({ children, meter, admin, statements, problems }, contender, url, tasks, drones, round);
        progress(`  ${int(m.perSecond)} jobs/s, CPU ${fixed(m.workerCpuUs ?? NaN, 0)} µs/job in workers + ${fixed(m.serverCpuUs ?? NaN, 0)} µs/job in PostgreSQL, others ${percent(m.others)}`);
        results.push(m);
      }
    }
  }
  const report = { machine: machine(), server: settings!.version, commit: commitInfo(join(import.meta.dir, "..")), tasks, rounds, contenders: all.map((c) => ({ name: c.name, description: c.description })), statements, results, problems };
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(format(report, all, droneCounts));
} finally {
  await admin.close();
  children.kill();
  scratch.remove();
}

function format(report: { machine: ReturnType<typeof machine>; server: string; commit: string; statements: boolean; results: Measurement[]; problems: string[] }, contenders: Contender[], drones: number[]): string {
  const of = (name: string, d: number) => report.results.filter((m) => m.contender === name && m.drones === d);
  const ratio = (a: Measurement[], b: Measurement[]) => a.map((m) => m.perSecond / (b.find((x) => x.round === m.round)?.perSecond ?? NaN)).filter(Number.isFinite);
  const reference = contenders.find((c) => c.name === "graphile-worker")?.name;
  const rows: string[][] = [];
  for (const d of drones) {
    for (const c of contenders) {
      const ms = of(c.name, d);
      const pick = (f: (m: Measurement) => number | null) => median(ms.map(f).filter((x): x is number => x !== null));
      rows.push([
        `${d}`,
        c.name,
        int(median(ms.map((m) => m.perSecond))),
        reference && c.name !== reference ? spreadText(ratio(ms, of(reference, d))) : "1",
        fixed(pick((m) => m.workerCpuUs), 0),
        fixed(pick((m) => m.serverCpuUs), 0),
        fixed(pick((m) => (m.workerCpuUs === null || m.serverCpuUs === null ? null : ((m.workerCpuUs + m.serverCpuUs) * m.perSecond) / 1e6)), 2),
        report.statements ? fixed(pick((m) => m.statementUs), 0) : "n/a",
        percent(Math.max(...ms.map((m) => m.others ?? 0))),
      ]);
    }
  }
  const targets: Target[] = [];
  if (reference && contenders.some((c) => c.name === "farcaster")) {
    for (const d of drones) {
      const r = ratio(of("farcaster", d), of(reference, d));
      targets.push({ name: `farcaster ≥ graphile-worker (tuned) jobs/s, ${d} worker process(es)`, measured: `${fixed(median(r), 2)}×`, pass: median(r) >= 1 });
    }
  }
  if (drones.includes(1) && drones.includes(4) && contenders.some((c) => c.name === "farcaster")) {
    const r = ratio(of("farcaster", 4), of("farcaster", 1));
    targets.push({ name: "farcaster: 4 worker processes ≥ 1.5× one", measured: `${fixed(median(r), 2)}×`, pass: median(r) >= 1.5 });
  }
  const scaling = contenders.map((c) => [c.name, spreadText(ratio(of(c.name, 4), of(c.name, 1)))]);
  const ab = contenders.some((c) => c.name === "farcaster-b") ? drones.map((d) => [`${d}`, spreadText(ratio(of("farcaster", d), of("farcaster-b", d)))]) : [];
  return [
    `# Farcaster on PostgreSQL against graphile-worker and pg-boss`,
    "",
    `${describeMachine(report.machine)}; ${report.server.split(",")[0]}; commit ${report.commit}`,
    ...contenders.map((c) => `- ${c.name}: ${c.description}`),
    "",
    table(["procs", "contender", "jobs/s (median)", "÷ graphile-worker", "worker CPU µs/job", "PostgreSQL CPU µs/job", `cores busy (of ${report.machine.cpus})`, "statements µs/job", "others' CPU"], rows),
    "",
    drones.includes(1) && drones.includes(4) ? table(["contender", "4 processes ÷ 1"], scaling) : "",
    ab.length > 0 ? `\n${table(["procs", "farcaster ÷ farcaster-b (each round's own pair)"], ab)}` : "",
    "",
    targets.length > 0 ? targetTable(targets) : "",
    "",
    "cores busy: (worker + PostgreSQL CPU µs/job) × jobs/s, the cores the workers and the server kept busy together; near all of them, the machine's CPU is the bound, and more worker processes cannot make it faster",
    report.statements ? "statements: pg_stat_statements total_exec_time of the database in the window ÷ jobs" : "pg_stat_statements: not loaded on this server (shared_preload_libraries); PostgreSQL's own time is its processes' CPU",
    ...(report.problems.length > 0 ? ["", "problems:", ...report.problems.map((p) => `- ${p}`)] : []),
  ].join("\n");
}
