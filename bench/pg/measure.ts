/**
 * One measurement of bench/pg.ts: one contender, W worker processes, a fresh
 * schema. The contender enqueues all the work; its workers start; this
 * process polls every POLL_MS until every job is done, sampling the workers'
 * CPU every SAMPLE_MS (/proc) and PostgreSQL's own (the CPU of every `postgres` process: the
 * backends serving the workers, the WAL writer, the checkpointer); then the
 * workers get SIGTERM and the schema is dropped.
 *
 * The window is the first job's start (the contender's own record) to the
 * poll that saw everything done, the same end for every contender: what a
 * user waiting for the work would see. CPU and others' share are those of
 * the window.
 */
import type { SQL, Subprocess } from "bun";
import { readdirSync, readFileSync } from "node:fs";
import type { CpuMeter } from "../lib/cpu.ts";
import { firstLines, type Children } from "../lib/procs.ts";
import { UsageTrack } from "../lib/usage.ts";
import type { Contender } from "./contenders.ts";

const POLL_MS = 10;
/**
 * The workers' and the server's CPU are read every SAMPLE_MS only (and at the
 * end): reading /proc for every process on each 10 ms poll took a fifth of a
 * core on a 2-core machine, taken from the contenders under test. The window's
 * start falls between samples and is interpolated, as before.
 */
const SAMPLE_MS = 100;
const TIMEOUT_MS = 10 * 60_000;
const TICK_MS = 10;

export interface Measurement {
  contender: string;
  drones: number;
  round: number;
  tasks: number;
  seconds: number;
  perSecond: number;
  /** Worker processes' user + sys CPU in the window, per job. */
  workerCpuUs: number | null;
  /** PostgreSQL's processes' CPU in the window, per job. */
  serverCpuUs: number | null;
  /** pg_stat_statements' execution time of the window's statements, per job (null: not available). */
  statementUs: number | null;
  /** Share of the machine neither the workers nor PostgreSQL nor this process used meanwhile. */
  others: number | null;
}

/** CPU of every `postgres` process now (ms); null without /proc. */
export function serverCpuMs(): number | null {
  let ticks = 0;
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== "postgres") continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  } catch {
    return null;
  }
  return ticks * TICK_MS;
}

/** A counter sampled over time, read at any moment inside the samples by linear interpolation. */
class Series {
  private readonly points: { at: number; value: number }[] = [];
  add(at: number, value: number | null): void {
    if (value !== null) this.points.push({ at, value });
  }
  at(t: number): number | null {
    const p = this.points;
    if (p.length === 0) return null;
    const after = p.findIndex((s) => s.at >= t);
    if (after === -1) return p.at(-1)!.value;
    if (after === 0) return p[0]!.value;
    const a = p[after - 1]!;
    const b = p[after]!;
    return a.value + ((b.value - a.value) * (t - a.at)) / (b.at - a.at);
  }
}

export interface MeasureContext {
  children: Children;
  meter: CpuMeter;
  admin: SQL;
  statements: boolean;
  problems: string[];
}

export async function measure(ctx: MeasureContext, contender: Contender, url: string, tasks: number, drones: number, round: number): Promise<Measurement> {
  const schema = `fc_bench_${contender.name.replace(/\W/g, "_")}_${process.pid}_${round}_${drones}`;
  await ctx.admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  try {
    const prepared = await contender.prepare(url, schema, tasks);
    if (ctx.statements) await ctx.admin.unsafe("SELECT pg_stat_statements_reset()");
    const cpu = ctx.meter.start();
    const meterFrom = Date.now();
    const workers = Array.from({ length: drones }, () =>
      ctx.children.spawn(() => Bun.spawn(prepared.workerCommand, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: prepared.env, cwd: prepared.cwd })),
    ) as Subprocess<"ignore", "pipe", "pipe">[];
    const outputs = workers.map((w) => new Response(w.stdout).text());
    const errors = workers.map((w) => new Response(w.stderr).text());
    let exited: number | null = null;
    let stopping = false;
    for (const w of workers) void w.exited.then((code) => (stopping ? undefined : (exited ??= code)));
    const track = new UsageTrack();
    const server = new Series();
    const pids = workers.map((w) => w.pid);
    const server0 = serverCpuMs();
    const deadline = performance.now() + TIMEOUT_MS;
    let end = 0;
    let sampledAt = -Infinity;
    try {
      for (;;) {
        const now = Date.now();
        if (now - sampledAt >= SAMPLE_MS) {
          sampledAt = now;
          track.sample(pids, now);
          server.add(now, serverCpuMs());
        }
        if (await prepared.done(ctx.admin)) {
          end = Date.now();
          track.sample(pids, end);
          server.add(end, serverCpuMs());
          break;
        }
        if (exited !== null) throw new Error(`${contender.name}: a worker exited with code ${exited} before the work was done: ${firstLines((await Promise.all(errors)).join("\n"), 5)}`);
        if (performance.now() > deadline) throw new Error(`${contender.name}: not done within ${TIMEOUT_MS / 1000} s`);
        await Bun.sleep(POLL_MS);
      }
      const statementMs = ctx.statements
        ? Number((await ctx.admin.unsafe<{ ms: number | null }[]>("SELECT sum(total_exec_time) AS ms FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"))[0]?.ms ?? 0)
        : null;
      stopping = true;
      for (const w of workers) w.kill("SIGTERM");
      const timer = setTimeout(() => workers.forEach((w) => w.kill("SIGKILL")), 15_000);
      await Promise.all(workers.map((w) => w.exited));
      clearTimeout(timer);
      const share = cpu(); // after the exits: the workers' CPU is ours, not others'
      const serverAfter = serverCpuMs();
      const start = await prepared.firstStart(ctx.admin, await Promise.all(outputs));
      for (const text of await Promise.all(errors)) {
        const lines = text.split("\n").filter((line) => line.trim() && !line.includes("SIGTERM"));
        if (lines.length > 0) ctx.problems.push(`${contender.name}, ${drones} drone(s), round ${round}, worker stderr: ${firstLines(lines.join("\n"))}`);
      }
      const usage = track.window(start, end);
      const serverStart = server.at(start);
      const serverEnd = server.at(end);
      const serverMs = serverStart === null || serverEnd === null ? null : serverEnd - serverStart;
      const seconds = (end - start) / 1000;
      // The meter counts PostgreSQL as "others" (it is not our child): take its share out.
      const wallMs = (Date.now() - meterFrom) * navigator.hardwareConcurrency;
      const serverWhole = server0 === null || serverAfter === null ? 0 : serverAfter - server0;
      return {
        contender: contender.name,
        drones,
        round,
        tasks,
        seconds,
        perSecond: tasks / seconds,
        workerCpuUs: usage ? (usage.cpuMs * 1000) / tasks : null,
        serverCpuUs: serverMs === null ? null : (serverMs * 1000) / tasks,
        statementUs: statementMs === null ? null : (statementMs * 1000) / tasks,
        others: share.others === null ? null : Math.max(0, share.others - serverWhole / Math.max(wallMs, 1)),
      };
    } finally {
      stopping = true;
      for (const w of workers) w.kill("SIGKILL");
    }
  } finally {
    await ctx.admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}
