/**
 * Crash recovery (bench/drone.ts row 4, bench/latency.ts): two real
 * `farcaster worker --lease L` processes; the one that claims a long task is
 * killed with SIGKILL while it runs it; measured from the kill to the task's
 * first step running again on the other (idle) drone. A fresh drone replaces
 * the victim before the next repetition.
 */
import type { Subprocess } from "bun";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadWorkflowDir, WorkflowRegistry } from "../../src/engine/registry.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { CpuShare } from "../lib/cpu.ts";
import { firstLines, until } from "../lib/procs.ts";
import { median } from "../lib/stats.ts";
import type { CrashMark } from "../workflows/crash.ts";
import { wallNow } from "../workflows/_probe.ts";
import type { DroneBench } from "./context.ts";
import { BENCH_WORKFLOWS } from "./worker.ts";

const ENTRY = join(import.meta.dir, "..", "..", "farcaster.ts");
/** How long the victim runs the task before the kill, then spread over one heartbeat period. */
export const KILL_AFTER_MS = 1_500;
const CRASH_WAIT_MS = 20_000;

export interface CrashSettings {
  repeats: number;
  leaseMs: number;
  concurrency: number;
}

export interface CrashRepeat {
  recoveryMs: number;
  /** lease_expires_at − kill: what the lease still had to run. */
  leaseLeftMs: number;
  /** First step again − lease expiry: the wait for the idle drone's next poll, then its claim and start. */
  afterExpiryMs: number;
  /** The task.lease_expired event (whole ms) − lease expiry. */
  reclaimEventAfterExpiryMs: number | null;
  victim: string;
  rescuer: string;
}

export interface CrashResult {
  repeats: CrashRepeat[];
  medianMs: number;
  leaseMs: number;
  concurrency: number;
  cpu: CpuShare;
}

interface CliDrone {
  id: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  ready: Promise<void>;
}

function startCliDrone(bench: DroneBench, db: string, id: string, settings: CrashSettings): CliDrone {
  // Not --quiet: the first line ("drone ID: N slots, …") says it is up; the rest is drained.
  const proc = bench.children.spawn(() =>
    Bun.spawn(
      [process.execPath, ENTRY, "worker", "--db", db, "--workflows", BENCH_WORKFLOWS, "--lease", `${settings.leaseMs}ms`, "--id", id, "--concurrency", String(settings.concurrency)],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    ),
  );
  const ready = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    const up = Promise.withResolvers<void>();
    void (async () => {
      for await (const chunk of proc.stdout) {
        text += decoder.decode(chunk);
        if (text.includes(" slots")) up.resolve();
      }
    })();
    void new Response(proc.stderr).text().then((errors) => {
      if (errors.trim() && !errors.includes("SIGTERM")) bench.problems.push(`worker ${id} stderr: ${firstLines(errors)}`);
    });
    await Promise.race([up.promise, proc.exited.then((code) => Promise.reject(new Error(`farcaster worker ${id} exited with code ${code} before starting`)))]);
  })();
  return { id, proc, ready };
}

function readMarks(file: string): CrashMark[] {
  if (!existsSync(file) || statSync(file).size === 0) return [];
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as CrashMark);
}

export async function crashRecovery(bench: DroneBench, settings: CrashSettings): Promise<CrashResult> {
  const db = bench.dir.file("crash.db");
  const marks = bench.dir.file("crash-marks.jsonl");
  const store = new SqliteStore(db);
  const registry = new WorkflowRegistry();
  await loadWorkflowDir(registry, BENCH_WORKFLOWS);
  const live: CliDrone[] = [];
  let named = 0;
  const results: CrashRepeat[] = [];
  await bench.quiet();
  const cpu = bench.meter.start();
  try {
    for (let i = 0; i < settings.repeats; i++) {
      while (live.length < 2) live.push(startCliDrone(bench, db, `crash-${named++}`, settings));
      await Promise.all(live.map((d) => d.ready));
      const run = await store.createRun(registry.checkPlan({
        goal: `crash recovery ${i + 1}`,
        tasks: [{ id: "long", title: "a long first attempt", workflow: "bench-crash", input: { file: marks, holdMs: 60_000 } }],
      }).plan);
      const taskId = (await store.findTask(run.id, "long")).id;
      const first = await until(() => readMarks(marks).find((m) => m.taskId === taskId), CRASH_WAIT_MS, "a drone starting the long task");
      const victim = live.find((d) => d.id === first.worker);
      if (!victim) throw new Error(`the long task runs on ${first.worker}, which this benchmark did not start`);
      // Kill at spread-out points of the heartbeat period (a third of the lease), the same points every run.
      const offset = ((settings.leaseMs / 3) * i) / settings.repeats;
      await Bun.sleep(Math.max(0, first.at + KILL_AFTER_MS + offset - wallNow()));
      const killedAt = wallNow();
      victim.proc.kill("SIGKILL");
      await victim.proc.exited;
      live.splice(live.indexOf(victim), 1);
      // Nothing renews the lease any more: its expiry is final until the reclaim clears it.
      const leaseExpiresAt = (await store.getTask(taskId)).leaseExpiresAt;
      const again = await until(() => readMarks(marks).find((m) => m.taskId === taskId && m.attempt > first.attempt), CRASH_WAIT_MS, "the task running again");
      await until(async () => ((await store.getRun(run.id)).state === "succeeded" ? true : undefined), CRASH_WAIT_MS, "the recovered task finishing");
      const expired = (await store.listEvents({ runId: run.id })).find((e) => e.type === "task.lease_expired");
      if (leaseExpiresAt === null) bench.problems.push(`crash ${i + 1}: the task had no lease right after the kill`);
      const expiry = leaseExpiresAt ?? killedAt;
      results.push({
        recoveryMs: again.at - killedAt,
        leaseLeftMs: expiry - killedAt,
        afterExpiryMs: again.at - expiry,
        reclaimEventAfterExpiryMs: expired && leaseExpiresAt !== null ? expired.at - leaseExpiresAt : null,
        victim: first.worker,
        rescuer: again.worker,
      });
      bench.progress(`crash ${i + 1}: back after ${(results.at(-1)!.recoveryMs / 1000).toFixed(2)} s`);
    }
  } finally {
    for (const d of live) d.proc.kill("SIGTERM");
    await Promise.all(live.map((d) => d.proc.exited));
    await store.close();
  }
  return { repeats: results, medianMs: median(results.map((r) => r.recoveryMs)), leaseMs: settings.leaseMs, concurrency: settings.concurrency, cpu: cpu() };
}
