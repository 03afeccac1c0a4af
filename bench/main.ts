/**
 * The main job end to end, as a user runs it: `farcaster run plan.json
 * --yes` on a fresh database file, for plans of growing size (bench-noop
 * tasks, one journaled no-op step each), against the same plan done by
 * `farcaster run --detach` and one `farcaster worker` in the same run.
 *
 * What it shows: whether the main job's cost per task stays flat as the run
 * grows (its live loop shares a thread with its drones; it once re-read the
 * whole run on every event, which made it quadratic in the run's size), and
 * what the main job costs against a bare worker.
 *
 * Method: rounds; in each round every size runs each way once, back to back
 * (with --farcaster-b DIR, that checkout's farcaster.ts too), each in fresh
 * processes on its own database file. A measurement is the command's wall
 * time from spawn to exit (for the worker: from `run --detach` until the run
 * has ended). Medians over rounds.
 *
 * Prints a report (or --json) and exits 0: it is a report, not a test.
 *
 * With --pg URL the database is PostgreSQL: each measurement in a schema of
 * its own on that server, dropped after it.
 *
 * usage: bun run bench/main.ts [--sizes 1000,4000,8000] [--rounds 3] [--farcaster-b DIR] [--pg postgres://…] [--json]
 */
import { SQL } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { count } from "./lib/args.ts";
import { cpuMeter } from "./lib/cpu.ts";
import { tempDir } from "./lib/files.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children, until } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, int, percent, table, targetTable, type Target } from "./lib/table.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,4000,8000" },
    rounds: { type: "string", default: "3" },
    "farcaster-b": { type: "string" },
    pg: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const sizes = values.sizes!.split(",").map((s) => count("--sizes", s)).sort((a, b) => a - b);
const rounds = count("--rounds", values.rounds);
/** The cost per task at the largest size may be at most this many times the smallest's (linear, with noise). */
const FLAT_FACTOR = 1.5;
const ROOT = join(import.meta.dir, "..");
const WORKFLOWS = join(import.meta.dir, "workflows");
const progress = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};

interface Contender {
  name: string;
  entry: string;
  mode: "main job" | "worker";
}
const contenders: Contender[] = [
  { name: "farcaster", entry: join(ROOT, "farcaster.ts"), mode: "main job" },
  { name: "farcaster", entry: join(ROOT, "farcaster.ts"), mode: "worker" },
];
if (values["farcaster-b"]) contenders.push({ name: "farcaster-b", entry: join(values["farcaster-b"], "farcaster.ts"), mode: "main job" });

const meter = cpuMeter();
const children = new Children((child) => meter.exited(child));
const scratch = tempDir("farcaster-bench-main-");
children.onInterrupt(() => scratch.remove());

/** The environment of every command: no database or workflows of the caller's, no colour. */
function environment(): Record<string, string | undefined> {
  const { FARCASTER_DB: _db, FARCASTER_WORKFLOWS: _wf, ...env } = process.env;
  return { ...env, NO_COLOR: "1" };
}

async function exec(cmd: string[], what: string): Promise<string> {
  const child = children.spawn(() => Bun.spawn(cmd, { cwd: scratch.path, env: environment(), stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${what} exited with code ${code}:\n${stderr.trim().slice(0, 2000)}`);
  return stdout;
}

function planFile(tasks: number): string {
  const path = scratch.file(`plan-${tasks}.json`);
  const plan = { goal: "bench", tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "bench-noop", input: { steps: 1 } })) };
  writeFileSync(path, JSON.stringify(plan));
  return path;
}

const admin = values.pg ? new SQL(values.pg, { max: 1 }) : null;
let measurement = 0;

/** A fresh database for one measurement: a file, or a schema on the --pg server (dropped by `done`). */
async function freshDatabase(): Promise<{ db: string; done: () => Promise<void> }> {
  const n = ++measurement;
  if (!admin) return { db: scratch.file(`m${n}.db`), done: async () => {} };
  const schema = `bench_main_${process.pid}_${n}`;
  const url = new URL(values.pg!);
  url.searchParams.set("schema", schema);
  return { db: url.toString(), done: async () => void (await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)) };
}

/** Seconds the plan took to finish, by `contender`. */
async function measure(contender: Contender, plan: string): Promise<number> {
  const { db, done } = await freshDatabase();
  try {
    return await measureOn(db, contender, plan);
  } finally {
    await done();
  }
}

async function measureOn(db: string, contender: Contender, plan: string): Promise<number> {
  const common = ["--db", db, "--workflows", WORKFLOWS];
  const t0 = performance.now();
  if (contender.mode === "main job") {
    await exec([process.execPath, contender.entry, "run", plan, "--yes", ...common], "farcaster run --yes");
    return (performance.now() - t0) / 1000;
  }
  await exec([process.execPath, contender.entry, "run", plan, "--detach", "--json", ...common], "farcaster run --detach");
  const worker = children.spawn(() => Bun.spawn([process.execPath, contender.entry, "worker", "--quiet", ...common], { cwd: scratch.path, env: environment(), stdin: "ignore", stdout: "ignore", stderr: "pipe" }));
  try {
    await until(async () => {
      const status = JSON.parse(await exec([process.execPath, contender.entry, "status", "--json", "--db", db], "farcaster status")) as { runs: { state: string }[] };
      const state = status.runs[0]?.state;
      if (state === "failed" || state === "cancelled") throw new Error(`the run ${state}`);
      return state === "succeeded" ? true : undefined;
    }, 10 * 60_000, "the worker finishing the run", 20);
    return (performance.now() - t0) / 1000;
  } finally {
    worker.kill("SIGTERM");
    await worker.exited;
  }
}

type Row = { contender: string; mode: string; tasks: number; seconds: number[] };
const rows: Row[] = contenders.flatMap((c) => sizes.map((tasks) => ({ contender: c.name, mode: c.mode, tasks, seconds: [] as number[] })));
const started = performance.now();
const stopMeter = meter.start();
try {
  const plans = new Map(sizes.map((tasks) => [tasks, planFile(tasks)]));
  for (let round = 0; round < rounds; round++) {
    for (const tasks of sizes) {
      // The contenders' order rotates from round to round.
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(k + round) % contenders.length]!;
        progress(`round ${round + 1}/${rounds}: ${contender.name} ${contender.mode}, ${int(tasks)} tasks`);
        const seconds = await measure(contender, plans.get(tasks)!);
        rows.find((r) => r.contender === contender.name && r.mode === contender.mode && r.tasks === tasks)!.seconds.push(seconds);
        progress(`  ${fixed(seconds, 2)} s, ${int(tasks / seconds)} tasks/s`);
      }
    }
  }
} finally {
  scratch.remove();
  await admin?.close();
}
const others = stopMeter().others;

const perTaskMs = (row: Row) => (median(row.seconds) * 1000) / row.tasks;
const find = (contender: string, mode: string, tasks: number) => rows.find((r) => r.contender === contender && r.mode === mode && r.tasks === tasks)!;
const smallest = sizes[0]!;
const largest = sizes.at(-1)!;
const growth = (contender: string, mode: string) => perTaskMs(find(contender, mode, largest)) / perTaskMs(find(contender, mode, smallest));
const targets: Target[] =
  sizes.length > 1
    ? [{
        name: `main job: cost per task at ${int(largest)} tasks ≤ ${FLAT_FACTOR}× at ${int(smallest)} (linear in the run's size)`,
        measured: `${fixed(growth("farcaster", "main job"), 2)}×`,
        pass: growth("farcaster", "main job") <= FLAT_FACTOR,
      }]
    : [];

if (values.json) {
  console.log(JSON.stringify({ machine: { ...machine(), commit: commitInfo(ROOT) }, rounds, rows, others, targets }, null, 2));
} else {
  console.log(`# The main job end to end\n`);
  console.log(`${describeMachine(machine())}; store ${admin ? `PostgreSQL (${new URL(values.pg!).host})` : "SQLite"}; commit ${commitInfo(ROOT)}; ${rounds} round(s); ${fixed((performance.now() - started) / 1000, 0)} s in all; others' CPU ${percent(others)}\n`);
  console.log(
    table(
      ["contender", "how", "tasks", "seconds (median)", "tasks/s", "ms per task", "÷ worker"],
      rows.map((r) => {
        const worker = find("farcaster", "worker", r.tasks);
        return [r.contender, r.mode === "main job" ? "run --yes" : "run --detach + 1 worker", int(r.tasks), fixed(median(r.seconds), 2), int(r.tasks / median(r.seconds)), fixed(perTaskMs(r), 3), fixed(median(worker.seconds) / median(r.seconds), 2)];
      }),
    ),
  );
  console.log("");
  if (sizes.length > 1) {
    const growthRows = contenders.map((c) => [`${c.name} ${c.mode}`, `${fixed(growth(c.name, c.mode), 2)}×`]);
    console.log(table([`ms per task at ${int(largest)} ÷ at ${int(smallest)}`, "growth"], growthRows));
    console.log("");
    console.log(targetTable(targets));
    console.log("");
  }
  console.log("Notes:");
  console.log("- The main job runs the plan with its in-process swarm (default: max(4, cores) drones of one slot each: shell commands and agents one at a time per drone), printing one plain line per event (stdout is not a terminal).");
  console.log("- The worker: one `farcaster worker --quiet` at its default slots; seconds are from `run --detach` until `status` says the run succeeded (polled every 20 ms).");
  console.log("- Both include process start and the planning task (the plan is applied by the first drone). ÷ worker: the worker's seconds over this row's, same size.");
}
