/**
 * Write lanes and slots on PostgreSQL: one drone in its own process, on a
 * fresh schema, runs N `bench-noop` tasks (one journaled step each) with L
 * write lanes of S slots; the table gives its jobs/s, the writes per batch
 * and its CPU per job, medians over rounds, the configurations interleaved
 * (each round runs every one once, in a rotating order). It says how many
 * lanes a drone should open and how many slots a lane needs
 * (src/store/postgres/lanes.ts, src/engine/drone.ts).
 *
 * Prints a report (or --json) and exits 0: it is a report, not a test.
 *
 * usage: bun run bench/lanes.ts [--tasks 20000] [--rounds 2] [--configs 1x128,2x64,3x43,2x128,3x128,4x128]
 *                               [--url postgres://postgres@127.0.0.1:5432/test] [--json]
 */
import { SQL } from "bun";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { count } from "./lib/args.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, int, table } from "./lib/table.ts";
import { Drone } from "../src/engine/drone.ts";
import { loadWorkflows } from "../src/engine/registry.ts";
import { PostgresStore } from "../src/store/postgres/store.ts";

const ROOT = join(import.meta.dir, "..");
const DEFAULT_URL = process.env.FARCASTER_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";

interface Result {
  lanes: number;
  slots: number;
  jobsPerSecond: number;
  writesPerBatch: number;
  cpuUsPerJob: number;
}

if (process.argv[2] === "--one") await one(process.argv.slice(3));
else await main();

/** One measurement, in this process: `--one URL LANES SLOTS TASKS`; prints a Result as JSON. */
async function one([url, lanesArg, slotsArg, tasksArg]: string[]): Promise<void> {
  const lanes = Number(lanesArg);
  const slots = Number(slotsArg);
  const tasks = Number(tasksArg);
  const schema = `bench_lanes_${process.pid}`;
  const admin = new SQL(url!, { max: 1 });
  const target = new URL(url!);
  target.searchParams.set("schema", schema);
  const store = await PostgresStore.open(target.toString(), { lanes });
  try {
    const registry = await loadWorkflows({ dirs: [join(ROOT, "bench", "workflows")] });
    const run = await store.createRun({
      goal: "bench",
      tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "bench-noop", input: { steps: 1 } })),
    });
    const before = { ...store.writeStats };
    const cpu = process.cpuUsage();
    const started = performance.now();
    const drone = new Drone({ store, registry, concurrency: lanes * slots, lanes }).start();
    while ((await store.getRun(run.id)).state !== "succeeded") await Bun.sleep(10);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    await drone.stop(1_000);
    const batches = store.writeStats.batches - before.batches;
    const result: Result = {
      lanes: drone.openLanes,
      slots,
      jobsPerSecond: tasks / seconds,
      writesPerBatch: (store.writeStats.writes - before.writes) / batches,
      cpuUsPerJob: (used.user + used.system) / tasks,
    };
    console.log(JSON.stringify(result));
  } finally {
    await store.close();
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: "string", default: "20000" },
      rounds: { type: "string", default: "2" },
      configs: { type: "string", default: "1x128,2x64,3x43,2x128,3x128,4x128" },
      url: { type: "string", default: DEFAULT_URL },
      json: { type: "boolean", default: false },
    },
  });
  const tasks = count("--tasks", values.tasks);
  const rounds = count("--rounds", values.rounds);
  const configs = values.configs.split(",").map((text) => {
    const match = /^(\d+)x(\d+)$/.exec(text.trim());
    if (!match || Number(match[1]) < 1 || Number(match[1]) > 16 || Number(match[2]) < 1) {
      console.error(`--configs: "${text}" is not LANESxSLOTS (lanes 1 to 16, slots at least 1), such as 3x128`);
      process.exit(2);
    }
    return { lanes: Number(match[1]), slots: Number(match[2]) };
  });
  const children = new Children();
  const results = new Map<string, Result[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < configs.length; i++) {
        const { lanes, slots } = configs[(i + round) % configs.length]!;
        const { value } = await children.json<Result>([process.execPath, import.meta.path, "--one", values.url, String(lanes), String(slots), String(tasks)], `lanes ${lanes}x${slots}`, { cwd: ROOT });
        const key = `${lanes}x${slots}`;
        results.set(key, [...(results.get(key) ?? []), value]);
        if (!values.json) console.error(`round ${round + 1}/${rounds}: ${lanes} × ${slots}: ${int(value.jobsPerSecond)} jobs/s`);
      }
    }
  } finally {
    children.kill();
  }
  const rows = configs.map(({ lanes, slots }) => {
    const sample = results.get(`${lanes}x${slots}`) ?? [];
    const pick = (f: (r: Result) => number) => median(sample.map(f));
    return { lanes, slots, jobsPerSecond: pick((r) => r.jobsPerSecond), writesPerBatch: pick((r) => r.writesPerBatch), cpuUsPerJob: pick((r) => r.cpuUsPerJob), all: sample.map((r) => Math.round(r.jobsPerSecond)) };
  });
  if (values.json) {
    console.log(JSON.stringify({ machine: machine(), commit: commitInfo(ROOT), tasks, rounds, rows }, null, 2));
    return;
  }
  console.log(`# Write lanes × slots, one drone on PostgreSQL\n\n${describeMachine(machine())}; commit ${commitInfo(ROOT)}; ${int(tasks)} one-step tasks, ${rounds} round(s)\n`);
  console.log(
    table(
      ["lanes × slots", "jobs/s (median)", "each round", "writes per batch", "worker CPU µs/job"],
      rows.map((r) => [`${r.lanes} × ${r.slots}`, int(r.jobsPerSecond), r.all.map(int).join(" / "), fixed(r.writesPerBatch, 0), int(r.cpuUsPerJob)]),
    ),
  );
}
