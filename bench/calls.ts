/**
 * What the three calls every task makes cost, by store and route, without
 * the engine: N tasks claimed 128 at a time, then a step recorded for each
 * (128 calls in flight), then each completed (128 in flight). For each call,
 * the CPU of the calling process per task and of whoever does the writing
 * for it: the same process (SQLite), the store host a shared SQLite client
 * sends its writes to (another process on the same file, as with several
 * `farcaster worker`s), or the PostgreSQL server.
 *
 * It says where a task's CPU goes when a worker runs tasks that do nothing,
 * and what the socket to a store host adds to each forwarded task.
 *
 * usage: bun run bench/calls.ts [--tasks 20000] [--rounds 3] [--routes sqlite,shared,postgres]
 *                               [--url postgres://postgres@127.0.0.1:5432/test] [--json]
 */
import { SQL } from "bun";
import { parseArgs } from "node:util";
import { choices, count } from "./lib/args.ts";
import { tempDir } from "./lib/files.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, table } from "./lib/table.ts";
import { readUsage } from "./lib/usage.ts";
import { openStore } from "../src/store/index.ts";
import { SharedSqliteStore } from "../src/store/sqlite/shared/store.ts";
import type { ClaimedTask, StepWrite, Store } from "../src/store/types.ts";

const ROUTES = ["sqlite", "shared", "postgres"] as const;
type Route = (typeof ROUTES)[number];
const CALLS = ["claimTasks", "recordStep", "completeTask"] as const;
const IN_FLIGHT = 128;

// A store host for the "shared" route: `bun bench/calls.ts --host FILE` hosts FILE until killed.
if (process.argv[2] === "--host") {
  const host = new SharedSqliteStore(process.argv[3]!);
  console.log(JSON.stringify(await host.sharing()));
  setInterval(() => {}, 60_000);
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: "string", default: "20000" },
      rounds: { type: "string", default: "3" },
      routes: { type: "string" },
      url: { type: "string", default: process.env.FARCASTER_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test" },
      json: { type: "boolean", default: false },
    },
  });
  const tasks = count("--tasks", values.tasks);
  const rounds = count("--rounds", values.rounds);
  const routes = choices("--routes", values.routes, ROUTES) ?? [...ROUTES];
  const children = new Children();
  const scratch = tempDir("farcaster-bench-calls-");
  children.onInterrupt(() => scratch.remove());
  const results: Measurement[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const route of routes) {
        if (!values.json) process.stderr.write(`round ${round}/${rounds}: ${route}\n`);
        results.push(...(await measureRoute(route, round, tasks, { children, scratch: scratch.path, url: values.url! })));
      }
    }
  } finally {
    children.kill();
    scratch.remove();
  }
  const report = { machine: machine(), commit: commitInfo(import.meta.dir), tasks, rounds, results };
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(format(report, routes));
}

interface Measurement {
  route: Route;
  round: number;
  call: (typeof CALLS)[number];
  /** µs of CPU per task in the calling process. */
  callerUs: number;
  /** µs of CPU per task in whoever writes for it (null: the caller itself). */
  writerUs: number | null;
  wallUs: number;
}

interface Context {
  children: Children;
  scratch: string;
  url: string;
}

/** The processes that write for the caller, when others do: their CPU is read from /proc. */
interface Writer {
  /** CPU ms so far, by process id. */
  cpu(): Promise<Map<number, number>>;
  close(): Promise<void>;
}

/** CPU ms the writer's processes used between two readings (a process new in the second counts from 0). */
function spent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const usage = readUsage(pid);
    if (usage) out.set(pid, usage.cpuMs);
  }
  return out;
}

async function measureRoute(route: Route, round: number, tasks: number, context: Context): Promise<Measurement[]> {
  const { store, writer } = await open(route, round, context);
  try {
    await store.createRun({ version: 1, goal: "bench/calls", tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "bench-noop", input: { steps: 1 } })) });
    const claimed: ClaimedTask[] = [];
    const step = (): StepWrite => ({ key: "noop", seq: 1, kind: "step", status: "completed", input: null, output: null, error: null, startedAt: Date.now(), endedAt: Date.now() });
    const phases: Record<(typeof CALLS)[number], () => Promise<void>> = {
      claimTasks: async () => {
        while (claimed.length < tasks) {
          const got = await store.claimTasks("bench", IN_FLIGHT, 600_000);
          if (got.length === 0) throw new Error(`claimed ${claimed.length} of ${tasks} tasks, then nothing`);
          claimed.push(...got);
        }
      },
      recordStep: () => inFlight(claimed, (task) => store.recordStep(task.taskId, task.attemptId, step())),
      completeTask: () => inFlight(claimed, (task) => store.completeTask(task.taskId, task.attemptId, null).then(() => undefined)),
    };
    const out: Measurement[] = [];
    for (const call of CALLS) {
      const writer0 = await writer?.cpu();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await phases[call]();
      const wallUs = ((performance.now() - t0) * 1000) / tasks;
      const cpu = process.cpuUsage(cpu0);
      const writerUs = writer && writer0 ? (spent(writer0, await writer.cpu()) * 1000) / tasks : null;
      out.push({ route, round, call, callerUs: (cpu.user + cpu.system) / tasks, writerUs, wallUs });
    }
    return out;
  } finally {
    await store.close();
    await writer?.close();
  }
}

/** Runs `fn` for every task, IN_FLIGHT at a time (as a drone's slots keep that many calls out). */
async function inFlight(all: readonly ClaimedTask[], fn: (task: ClaimedTask) => Promise<void>): Promise<void> {
  for (let i = 0; i < all.length; i += IN_FLIGHT) await Promise.all(all.slice(i, i + IN_FLIGHT).map(fn));
}

async function open(route: Route, round: number, context: Context): Promise<{ store: Store; writer: Writer | null }> {
  if (route === "sqlite") return { store: await openStore({ db: `${context.scratch}/sqlite-${round}.db` }), writer: null };
  if (route === "shared") {
    const file = `${context.scratch}/shared-${round}.db`;
    const host = context.children.spawn(() => Bun.spawn([process.execPath, import.meta.path, "--host", file], { stdin: "ignore", stdout: "pipe", stderr: "inherit" }));
    await host.stdout.getReader().read(); // it hosts once it said so
    const store = new SharedSqliteStore(file);
    const role = await store.sharing();
    if (role.role !== "client") throw new Error(`the shared store did not join the host: ${JSON.stringify(role)}`);
    return {
      store,
      writer: {
        cpu: async () => cpuOf([host.pid]),
        close: async () => {
          host.kill();
          await host.exited;
        },
      },
    };
  }
  const schema = `fc_bench_calls_${process.pid}_${round}`;
  const url = new URL(context.url);
  url.searchParams.set("schema", schema);
  url.searchParams.set("application_name", `farcaster-bench-calls-${process.pid}`);
  const store = await openStore({ db: url.toString() });
  const admin = new SQL(context.url, { max: 1 });
  return {
    store,
    writer: {
      // The store's backends: they run its statements (and their commits).
      cpu: async () => {
        const rows = await admin.unsafe<{ pid: number }[]>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [url.searchParams.get("application_name")]);
        return cpuOf(rows.map((row) => row.pid));
      },
      close: async () => {
        await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.close();
      },
    },
  };
}

function format(report: { machine: ReturnType<typeof machine>; commit: string; tasks: number; rounds: number; results: Measurement[] }, routes: readonly Route[]): string {
  const rows: string[][] = [];
  const label: Record<Route, string> = { sqlite: "SQLite, in process", shared: "SQLite, client of a store host", postgres: "PostgreSQL" };
  const writerLabel: Record<Route, string> = { sqlite: "–", shared: "host process", postgres: "server backends" };
  for (const route of routes) {
    let sumCaller = 0;
    let sumWriter = 0;
    for (const call of CALLS) {
      const ms = report.results.filter((m) => m.route === route && m.call === call);
      const caller = median(ms.map((m) => m.callerUs));
      const writer = ms[0]?.writerUs === null ? null : median(ms.map((m) => m.writerUs ?? NaN));
      sumCaller += caller;
      sumWriter += writer ?? 0;
      rows.push([label[route], call, fixed(caller, 1), writer === null ? "–" : fixed(writer, 1), fixed(median(ms.map((m) => m.wallUs)), 1)]);
    }
    rows.push([label[route], "all three", fixed(sumCaller, 1), route === "sqlite" ? "–" : fixed(sumWriter, 1), ""]);
  }
  return [
    "# The store's hot calls, per task",
    "",
    `${describeMachine(report.machine)}; commit ${report.commit}; ${report.tasks.toLocaleString("en-US")} tasks, ${IN_FLIGHT} calls in flight, medians of ${report.rounds} round(s)`,
    "",
    table(["store, route", "call", "caller CPU µs/task", `writer CPU µs/task (${routes.map((r) => writerLabel[r]).filter((w) => w !== "–").join(", ")})`, "wall µs/task"], rows),
    "",
    "caller: the process making the calls (a worker); writer: the store host that applies a shared client's writes, or PostgreSQL's backends (from /proc; the server must run on this machine).",
  ].join("\n");
}
