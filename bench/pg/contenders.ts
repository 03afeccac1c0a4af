/**
 * The contenders of bench/pg.ts, each on a schema of its own on the same
 * server, doing the same work: N jobs whose handler does nothing.
 *
 *   farcaster        through its CLI, as a user would: a workplan of N
 *                    bench-noop tasks (one journaled ctx.step each, durable
 *                    before it returns), `farcaster run --detach`, then
 *                    `farcaster worker --quiet` processes at the worker's
 *                    default slots (or --farcaster-concurrency); any checkout
 *                    can be a contender (--farcaster-b DIR: its farcaster.ts)
 *   graphile-worker  0.18, tuned: a local queue (jobs fetched and locked in
 *                    one statement), batched completion, 32 jobs at once
 *   pg-boss          12, batch fetch (jobs fetched, and completed, by batch)
 *
 * The peers need Node ≥ 22: the bench installs Node 22 with them, by npm,
 * into a folder of its own (never into this project), once.
 */
import type { SQL } from "bun";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Children } from "../lib/procs.ts";

export const PEER_PACKAGES = ["node@22.23.3", "graphile-worker@0.18.0", "pg-boss@12.38.0"];
const PEER_SCRIPT = join(import.meta.dir, "peer.mjs");
const ROOT = join(import.meta.dir, "..", "..");
const WORKFLOWS = join(import.meta.dir, "..", "workflows");
/** How often graphile-worker's done poll runs its full count (ms) while jobs are left; pg-boss's runs only that. */
const FULL_CHECK_MS = 1_000;
const PGBOSS_CHECK_MS = 100;

export interface Prepared {
  workerCommand: string[];
  env?: Record<string, string | undefined>;
  cwd: string;
  /** True once every job is done; throws when the work failed. */
  done(admin: SQL): Promise<boolean>;
  /** The first job's start (epoch ms), once done: from the database or from the workers' output. */
  firstStart(admin: SQL, outputs: string[]): Promise<number>;
}

export interface Contender {
  name: string;
  description: string;
  prepare(url: string, schema: string, tasks: number): Promise<Prepared>;
}

export interface Peers {
  node: string;
  /** bench/pg/peer.mjs, copied beside the packages it imports (ESM resolves them from the script's folder). */
  script: string;
}

/** Installs the peers (and a Node 22 to run them) into `dir` unless they are there. */
export async function installPeers(dir: string, children: Children, progress: (m: string) => void): Promise<Peers> {
  const node = join(dir, "node_modules", ".bin", "node");
  const script = join(dir, "peer.mjs");
  const ready = () => {
    copyFileSync(PEER_SCRIPT, script);
    return { node, script };
  };
  if (existsSync(node) && existsSync(join(dir, "node_modules", "graphile-worker")) && existsSync(join(dir, "node_modules", "pg-boss"))) return ready();
  progress(`installing ${PEER_PACKAGES.join(", ")} into ${dir} (once)`);
  const proc = children.spawn(() => Bun.spawn(["npm", "install", "--prefix", dir, "--no-audit", "--no-fund", ...PEER_PACKAGES], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || !existsSync(node)) throw new Error(`npm install of the peers failed (exit ${code}):\n${stderr.trim()}`);
  return ready();
}

function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set("schema", schema);
  return u.toString();
}

/** `concurrency` undefined: the worker's default. */
export function farcaster(scratch: string, children: Children, concurrency: number | undefined, options: { name?: string; checkout?: string } = {}): Contender {
  const entry = join(options.checkout ?? ROOT, "farcaster.ts");
  if (!existsSync(entry)) throw new Error(`--farcaster-b: ${options.checkout} has no farcaster.ts`);
  const plans = new Map<number, string>();
  const slots = concurrency === undefined ? [] : ["-c", String(concurrency)];
  return {
    name: options.name ?? "farcaster",
    description: `${entry} worker (${concurrency === undefined ? "default" : concurrency} slots), bench-noop tasks with one journaled step each`,
    async prepare(url, schema, tasks) {
      let plan = plans.get(tasks);
      if (!plan) {
        plan = join(scratch, `plan-${tasks}.json`);
        writeFileSync(plan, JSON.stringify({ version: 1, goal: "bench", tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "bench-noop", input: { steps: 1 } })) }));
        plans.set(tasks, plan);
      }
      const db = withSchema(url, schema);
      const { FARCASTER_DB: _db, FARCASTER_WORKFLOWS: _wf, ...env } = process.env;
      const { value } = await children.json<{ run: { id: string } }>([process.execPath, entry, "run", plan, "--detach", "--json", "--db", db, "--workflows", WORKFLOWS], "farcaster run --detach", { env, cwd: scratch });
      const runId = value.run.id;
      return {
        env,
        cwd: scratch,
        workerCommand: [process.execPath, entry, "worker", "--db", db, "--workflows", WORKFLOWS, "--quiet", ...slots],
        async done(admin) {
          const [run] = await admin.unsafe<{ state: string }[]>(`SELECT state FROM ${schema}.runs WHERE id = $1`, [runId]);
          if (run?.state === "failed" || run?.state === "cancelled") throw new Error(`farcaster: run ${runId} ${run.state}`);
          return run?.state === "succeeded";
        },
        async firstStart(admin) {
          // The first step function's start (as the peers' first handler call), not the first task's
          // started_at: tasks claimed with @plan's completion carry the clock of that transaction's start.
          const [row] = await admin.unsafe<{ first: string }[]>(
            `SELECT min(s.started_at) AS first FROM ${schema}.steps s JOIN ${schema}.tasks t ON t.id = s.task_id WHERE t.run_id = $1 AND t.key <> '@plan'`,
            [runId],
          );
          return Number(row!.first);
        },
      };
    },
  };
}

function peer(name: "graphile-worker" | "pg-boss", { node, script }: Peers, scratch: string, children: Children, concurrency: number, batch: number): Contender {
  const id = name === "graphile-worker" ? "graphile" : "pgboss";
  return {
    name,
    description:
      name === "graphile-worker"
        ? `graphile-worker 0.18.0 on Node 22: concurrency ${concurrency}, localQueue.size ${batch}, completeJobBatchDelay 0`
        : `pg-boss 12.38.0 on Node 22: batchSize ${batch}, localConcurrency ${Math.max(1, Math.round(concurrency / batch))}, burstWhenBatchFull`,
    async prepare(url, schema, tasks) {
      const enqueue = children.spawn(() => Bun.spawn([node, script, "enqueue", id, url, schema, String(tasks)], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: scratch }));
      const [stderr, code] = await Promise.all([new Response(enqueue.stderr).text(), enqueue.exited]);
      if (code !== 0) throw new Error(`${name}: enqueue failed (exit ${code}): ${stderr.trim()}`);
      return {
        cwd: scratch,
        workerCommand: [node, script, "work", id, url, schema, String(concurrency), String(batch)],
        done: name === "graphile-worker" ? graphileDone(schema) : pgBossDone(schema, tasks),
        async firstStart(_admin, outputs) {
          const firsts = outputs.map((out) => (JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { first?: number }).first ?? 0).filter((t) => t > 0);
          if (firsts.length === 0) throw new Error(`${name}: no worker reported its first job`);
          return Math.min(...firsts);
        },
      };
    },
  };
}

// The done poll runs every 10 ms, so its query must cost next to nothing: a count over the job table
// (20,000 rows, dead ones included) took 4.5 ms (graphile-worker) and 7.4 ms (pg-boss) of the server's
// time per poll, a third of what the peer itself spent there.

/**
 * graphile-worker deletes a job once done: each poll asks whether a job is left that can still run,
 * by a scan that stops at the first one. The full count, which also finds failed jobs, runs when none
 * is left, and once a second meanwhile, so that a failing peer stops the bench instead of timing out.
 */
function graphileDone(schema: string): Prepared["done"] {
  let countedAt = performance.now();
  return async (admin) => {
    const now = performance.now();
    if (now - countedAt < FULL_CHECK_MS) {
      const [left] = await admin.unsafe<{ runnable: boolean }[]>(`SELECT EXISTS (SELECT 1 FROM ${schema}._private_jobs WHERE attempts < max_attempts) AS runnable`);
      if (left!.runnable) return false;
    }
    countedAt = now;
    const [row] = await admin.unsafe<{ open: number; failed: number }[]>(`SELECT count(*)::int AS open, count(*) FILTER (WHERE attempts >= max_attempts)::int AS failed FROM ${schema}._private_jobs`);
    if (row!.failed > 0) throw new Error(`graphile-worker: ${row!.failed} jobs failed`);
    return row!.open === 0;
  };
}

/**
 * pg-boss keeps its jobs, and no query on its table was found that the planner answers cheaply
 * without statistics: its full count runs every PGBOSS_CHECK_MS only (its window may end up to that
 * much late, 2% of a 5 s window).
 */
function pgBossDone(schema: string, tasks: number): Prepared["done"] {
  let countedAt = performance.now();
  return async (admin) => {
    const now = performance.now();
    if (now - countedAt < PGBOSS_CHECK_MS) return false;
    countedAt = now;
    const [row] = await admin.unsafe<{ done: number; failed: number }[]>(`SELECT count(*) FILTER (WHERE state = 'completed')::int AS done, count(*) FILTER (WHERE state = 'failed')::int AS failed FROM ${schema}.job`);
    if (row!.failed > 0) throw new Error(`pg-boss: ${row!.failed} jobs failed`);
    return row!.done === tasks;
  };
}

export function graphileWorker(node: Peers, scratch: string, children: Children, concurrency: number, batch: number): Contender {
  return peer("graphile-worker", node, scratch, children, concurrency, batch);
}

export function pgBoss(node: Peers, scratch: string, children: Children, concurrency: number, batch: number): Contender {
  return peer("pg-boss", node, scratch, children, concurrency, batch);
}
