/**
 * Write lanes and slots on PostgreSQL: one drone in its own process, on a
 * fresh schema, runs N `bench-noop` tasks (one journaled step each) with L
 * write lanes of S slots; the table gives its jobs/s, the writes per batch
 * and its CPU per job, medians over rounds, the configurations interleaved
 * (each round runs every one once, in a rotating order). It says how many
 * lanes a drone should open and how many slots a lane needs
 * (src/store/postgres/lanes.ts, src/engine/drone.ts).
 *
 * --farcaster-b DIR runs another checkout's engine and store beside, with
 * this harness (the A/B of two commits): each round runs both for every
 * configuration, the order alternating, and the report adds each round's
 * this ÷ that. Besides the drone's own CPU it reports the machine's (every
 * process, PostgreSQL's backends included) over the same window, per job:
 * the server's time is most of a job's cost.
 *
 * Prints a report (or --json) and exits 0: it is a report, not a test.
 *
 * usage: bun run bench/lanes.ts [--tasks 20000] [--rounds 2] [--configs 1x128,2x64,3x43,2x128,3x128,4x128]
 *                               [--farcaster-b DIR] [--url postgres://postgres@127.0.0.1:5432/test] [--json]
 */
import { SQL } from "bun";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { count } from "./lib/args.ts";
import { busyMs } from "./lib/cpu.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, int, spreadText, table } from "./lib/table.ts";
import type { Drone as DroneClass } from "../src/engine/drone.ts";
import type { loadWorkflows as LoadWorkflows } from "../src/engine/registry.ts";
import type { PostgresStore as PostgresStoreClass } from "../src/store/postgres/store.ts";

const ROOT = join(import.meta.dir, "..");
const DEFAULT_URL = process.env.FARCASTER_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";

interface Result {
  lanes: number;
  slots: number;
  jobsPerSecond: number;
  writesPerBatch: number;
  cpuUsPerJob: number;
  /** Every process's CPU in the drone's window (PostgreSQL's included) ÷ jobs; null without /proc/stat. */
  machineCpuUsPerJob: number | null;
}

if (process.argv[2] === "--one") await one(process.argv.slice(3));
else await main();

/**
 * One measurement, in this process: `--one URL LANES SLOTS TASKS [ROOT]`, with
 * the engine and store of the checkout at ROOT (default: this one's); prints
 * a Result as JSON.
 */
async function one([url, lanesArg, slotsArg, tasksArg, rootArg]: string[]): Promise<void> {
  const root = rootArg ?? ROOT;
  const { Drone } = (await import(join(root, "src/engine/drone.ts"))) as { Drone: typeof DroneClass };
  const { loadWorkflows } = (await import(join(root, "src/engine/registry.ts"))) as { loadWorkflows: typeof LoadWorkflows };
  const { PostgresStore } = (await import(join(root, "src/store/postgres/store.ts"))) as { PostgresStore: typeof PostgresStoreClass };
  const lanes = Number(lanesArg);
  const slots = Number(slotsArg);
  const tasks = Number(tasksArg);
  const schema = `bench_lanes_${process.pid}`;
  const admin = new SQL(url!, { max: 1 });
  const target = new URL(url!);
  target.searchParams.set("schema", schema);
  const store = await PostgresStore.open(target.toString(), { lanes });
  try {
    const registry = await loadWorkflows({ dirs: [join(root, "bench", "workflows")] });
    const run = await store.createRun({
      goal: "bench",
      tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "bench-noop", input: { steps: 1 } })),
    });
    const before = { ...store.writeStats };
    const cpu = process.cpuUsage();
    const busy = busyMs();
    const started = performance.now();
    const drone = new Drone({ store, registry, concurrency: lanes * slots, lanes }).start();
    while ((await store.getRun(run.id)).state !== "succeeded") await Bun.sleep(10);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const busyAfter = busyMs();
    await drone.stop(1_000);
    const batches = store.writeStats.batches - before.batches;
    const result: Result = {
      lanes: drone.openLanes,
      slots,
      jobsPerSecond: tasks / seconds,
      writesPerBatch: (store.writeStats.writes - before.writes) / batches,
      cpuUsPerJob: (used.user + used.system) / tasks,
      machineCpuUsPerJob: busy === null || busyAfter === null ? null : ((busyAfter - busy) * 1000) / tasks,
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
      "farcaster-b": { type: "string" },
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
  const checkouts = [{ name: "farcaster", root: ROOT }];
  const other = values["farcaster-b"];
  if (other !== undefined) {
    const root = resolve(other);
    if (!existsSync(join(root, "src", "store", "postgres", "store.ts"))) {
      console.error(`--farcaster-b: ${root} is not a Farcaster checkout with a PostgreSQL store (no src/store/postgres/store.ts)`);
      process.exit(2);
    }
    checkouts.push({ name: "farcaster-b", root });
  }
  const children = new Children();
  const results = new Map<string, Result[]>();
  const keyOf = (checkout: string, lanes: number, slots: number) => `${checkout} ${lanes}x${slots}`;
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < configs.length; i++) {
        const { lanes, slots } = configs[(i + round) % configs.length]!;
        // The checkouts alternate which goes first, round by round.
        for (const checkout of round % 2 === 0 ? checkouts : [...checkouts].reverse()) {
          const { value } = await children.json<Result>(
            [process.execPath, import.meta.path, "--one", values.url, String(lanes), String(slots), String(tasks), checkout.root],
            `${checkout.name} lanes ${lanes}x${slots}`,
            { cwd: checkout.root }, // the registry also loads the workflows of the directory it runs in
          );
          const key = keyOf(checkout.name, lanes, slots);
          results.set(key, [...(results.get(key) ?? []), value]);
          if (!values.json) console.error(`round ${round + 1}/${rounds}: ${checkout.name} ${lanes} × ${slots}: ${int(value.jobsPerSecond)} jobs/s`);
        }
      }
    }
  } finally {
    children.kill();
  }
  const rows = checkouts.flatMap((checkout) =>
    configs.map(({ lanes, slots }) => {
      const sample = results.get(keyOf(checkout.name, lanes, slots)) ?? [];
      const pick = (f: (r: Result) => number | null) => median(sample.map(f).filter((v): v is number => v !== null));
      return {
        checkout: checkout.name,
        lanes,
        slots,
        jobsPerSecond: pick((r) => r.jobsPerSecond),
        writesPerBatch: pick((r) => r.writesPerBatch),
        cpuUsPerJob: pick((r) => r.cpuUsPerJob),
        machineCpuUsPerJob: pick((r) => r.machineCpuUsPerJob),
        all: sample.map((r) => Math.round(r.jobsPerSecond)),
      };
    }),
  );
  // Each round's own pair: this checkout's jobs/s over the other's.
  const ratios = checkouts.length < 2 ? [] : configs.map(({ lanes, slots }) => {
    const a = results.get(keyOf("farcaster", lanes, slots)) ?? [];
    const b = results.get(keyOf("farcaster-b", lanes, slots)) ?? [];
    return { lanes, slots, rounds: a.map((r, i) => r.jobsPerSecond / b[i]!.jobsPerSecond) };
  });
  if (values.json) {
    console.log(JSON.stringify({ machine: machine(), commit: commitInfo(ROOT), checkouts, tasks, rounds, rows, ratios }, null, 2));
    return;
  }
  const b = checkouts[1];
  console.log(`# Write lanes × slots, one drone on PostgreSQL\n\n${describeMachine(machine())}; commit ${commitInfo(ROOT)}${b ? `; farcaster-b: ${b.root} (${commitInfo(b.root)})` : ""}; ${int(tasks)} one-step tasks, ${rounds} round(s)\n`);
  console.log(
    table(
      [...(b ? ["checkout"] : []), "lanes × slots", "jobs/s (median)", "each round", "writes per batch", "worker CPU µs/job", "machine CPU µs/job"],
      rows.map((r) => [...(b ? [r.checkout] : []), `${r.lanes} × ${r.slots}`, int(r.jobsPerSecond), r.all.map(int).join(" / "), fixed(r.writesPerBatch, 0), int(r.cpuUsPerJob), int(r.machineCpuUsPerJob)]),
    ),
  );
  if (ratios.length > 0) {
    console.log("\n" + table(["lanes × slots", "farcaster ÷ farcaster-b (each round's own pair)"], ratios.map((r) => [`${r.lanes} × ${r.slots}`, spreadText(r.rounds)])));
  }
  console.log("\nmachine CPU: every process's CPU time in the drone's window (the drone, PostgreSQL's backends, anything else running) ÷ jobs, from /proc/stat");
}
