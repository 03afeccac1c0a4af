/**
 * The main job's loop: in-process drones work one run while this loop shows
 * progress, brings gates to the person (or says how to decide them), and
 * returns when the run has ended or the person pressed Ctrl-C.
 */
import { availableParallelism, hostname } from "node:os";
import { PLANNING_TASK_KEY, TERMINAL_RUN_STATES } from "../core/states.ts";
import { Drone } from "../engine/drone.ts";
import type { WorkflowRegistry } from "../engine/registry.ts";
import { approveGate, defaultDecider } from "../services/gates.ts";
import type { EventRecord, GateRecord, RunRecord, Store, TaskRecord } from "../store/types.ts";
import { describeEvent, runProgress } from "../view/run.ts";
import { promptGate } from "./gatePrompt.ts";
import { LiveBlock, progressLines, terminalSize } from "./live.ts";
import { paint, type Output } from "./output.ts";

/** Last events kept for the live view. */
const RECENT_LINES = 20;

export function defaultWorkers(): number {
  return Math.max(4, availableParallelism());
}

export interface SwarmOptions {
  store: Store;
  registry: WorkflowRegistry;
  runId: string;
  workers: number;
  output: Output;
  /** Live view and gate prompts (a terminal on both ends). */
  interactive: boolean;
  /** No progress output (--json). */
  quiet: boolean;
  /** Approve the plan gate on the person's behalf (--yes). */
  approvePlan: boolean;
  leaseMs?: number;
  pollMs?: number;
}

export type SwarmEnd = { run: RunRecord; tasks: TaskRecord[]; interrupted: boolean };

export async function runSwarm(options: SwarmOptions): Promise<SwarmEnd> {
  const { store, output, runId } = options;
  const drones = Array.from({ length: options.workers }, (_, i) =>
    new Drone({ store, registry: options.registry, runId, concurrency: 1, id: `${hostname()}:${process.pid}:d${i + 1}`, leaseMs: options.leaseMs, maxIdleMs: 250 }).start(),
  );
  let interrupted = false;
  let wake: () => void = () => {};
  const forceExit = () => {
    output.err("second interrupt: exiting now; running leases will expire and be reclaimed (output not yet written may be lost)");
    process.exit(130);
  };
  const onSignal = () => {
    if (interrupted) forceExit();
    interrupted = true;
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const live = options.interactive && !options.quiet ? new LiveBlock((text) => output.write(text), () => terminalSize(), output.color) : null;
  const keys = new Map<number, string>();
  const startedAt = new Map<number, number>();
  const recent: string[] = [];
  const announced = new Set<string>();
  // The run's events arrive through one follower; the loop below re-reads the run when some came.
  const following = new AbortController();
  const arrived: EventRecord[] = [];
  const follower = (async () => {
    for await (const event of store.followEvents({ runId, signal: following.signal })) {
      arrived.push(event);
      wake();
    }
  })();
  let snapshot = await store.readRun(runId);
  try {
    for (let first = true; ; first = false) {
      const events = arrived.splice(0);
      if (events.length > 0) snapshot = await store.readRun(runId);
      for (const task of snapshot.tasks) keys.set(task.id, task.key);
      for (const event of events) {
        if (event.type === "task.started" && event.taskId !== null) startedAt.set(event.taskId, event.at);
        const line = describeEvent(event, keys);
        recent.push(line);
        if (!live && !options.quiet) output.out(`${new Date(event.at).toISOString().slice(11, 23)} ${line}`);
      }
      recent.splice(0, Math.max(0, recent.length - RECENT_LINES));
      if (TERMINAL_RUN_STATES.has(snapshot.run.state) || interrupted) break;
      if (first || events.some((event) => event.type === "gate.opened")) {
        for (const gate of snapshot.gates) {
          if (gate.state !== "pending" || announced.has(gate.id)) continue;
          announced.add(gate.id);
          await bringGate(options, gate, live);
        }
      }
      live?.draw(progressLines(runProgress(snapshot.run, snapshot.tasks, recent, Date.now(), startedAt)));
      // Woken by new events; otherwise redrawn now and then for the elapsed times.
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, options.pollMs ?? 200);
      });
    }
  } finally {
    following.abort();
    await follower;
    live?.clear();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (interrupted && !options.quiet) output.err(`stopping: letting running steps finish (Ctrl-C again to exit at once)`);
    process.on("SIGINT", forceExit);
    await Promise.all(drones.map((drone) => drone.stop(interrupted ? 5_000 : 0)));
  }
  return { run: await store.getRun(runId), tasks: await store.listTasks(runId), interrupted };
}

async function bringGate(options: SwarmOptions, gate: GateRecord, live: LiveBlock | null): Promise<void> {
  const { store, output } = options;
  if (gate.taskKey === PLANNING_TASK_KEY && options.approvePlan) {
    await approveGate(store, gate.id, `${defaultDecider()} (--yes)`);
    if (!options.quiet) output.out(`plan approved on your behalf (--yes): ${gate.question}`);
    return;
  }
  if (options.interactive) {
    live?.clear();
    await promptGate(store, output, gate);
    return;
  }
  if (!options.quiet) {
    output.out(`${paint(output, "yellow", "waiting for a person")} at gate ${gate.id} (${gate.taskKey}): ${gate.question}`);
    output.out(`  approve: farcaster approve ${gate.id}    reject: farcaster reject ${gate.id} --reason "..."`);
  }
}
