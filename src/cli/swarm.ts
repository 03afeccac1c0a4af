/**
 * The main job's loop: in-process drones work one run while this loop shows
 * progress, brings gates to the person (or says how to decide them), and
 * returns when the run has ended or the person pressed Ctrl-C.
 *
 * On a terminal: the live view, and gate questions that follow the store
 * (gatePrompt.ts). Without one: one plain line per event, and each gate held
 * with the command that decides it. With --json: one JSON object per line
 * as things happen, for a script to drive.
 */
import { availableParallelism, hostname } from "node:os";
import { PLANNING_TASK_KEY, TERMINAL_RUN_STATES } from "../core/states.ts";
import { Drone } from "../engine/drone.ts";
import type { WorkflowRegistry } from "../engine/registry.ts";
import { approveGate, defaultDecider } from "../services/gates.ts";
import { RunSummaryCache } from "../store/runSummaryCache.ts";
import type { EventRecord, GateRecord, RunRecord, RunSummary, Store, TaskRecord } from "../store/types.ts";
import { isPlanReview } from "../view/planReview.ts";
import { describeEvent, runProgress } from "../view/run.ts";
import { printGate } from "./commands/gates.ts";
import { GatePrompter } from "./gatePrompt.ts";
import { LiveBlock, progressLines, terminalSize } from "./live.ts";
import { paint, type Output } from "./output.ts";

/** Last events kept for the live view. */
const RECENT_LINES = 20;

/** Task events alone bring a read of the run at most this often (see runSwarm). */
const READ_INTERVAL_MS = 100;

/** Events that end a gate's wait: a question about it closes. */
const GATE_SETTLED = new Set(["gate.approved", "gate.rejected", "gate.expired", "gate.cancelled"]);

export function defaultWorkers(): number {
  return Math.max(4, availableParallelism());
}

export interface SwarmOptions {
  store: Store;
  registry: WorkflowRegistry;
  runId: string;
  workers: number;
  output: Output;
  /** Live view and gate questions (a terminal on both ends). */
  interactive: boolean;
  /** One JSON object per line instead of text (--json). */
  json: boolean;
  /** Approve the plan on the person's behalf (--yes), unless it carries what a person must see. */
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
  const interrupt = () => {
    if (interrupted) forceExit();
    interrupted = true;
    wake();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  const emit = (record: Record<string, unknown>) => output.out(JSON.stringify(record));
  const prompter = options.interactive && !options.json ? new GatePrompter({ store, output, onInterrupt: interrupt }) : null;
  const live = prompter ? new LiveBlock((text) => output.write(text), () => terminalSize(), output.color) : null;
  const keys = new Map<number, string>();
  const recent: string[] = [];
  const handled = new Set<string>();
  // The run's events arrive through one follower; the loop below re-reads the run when some came.
  const following = new AbortController();
  const arrived: EventRecord[] = [];
  const follower = (async () => {
    for await (const event of store.followEvents({ runId, signal: following.signal })) {
      arrived.push(event);
      wake();
    }
  })();
  // A read takes only the tasks changed since the last one, and the gates only when a gate event came
  // (a plan's review gate holds the whole plan). Task events alone bring a read at most every
  // READ_INTERVAL_MS: this loop shares its thread with the drones, and a run of thousands of tasks sends
  // events faster than it is worth redrawing. Gate and run events are read at once.
  const run = new RunSummaryCache(store, runId);
  let readAt = 0;
  let unread = false; // events came that the last read may not show
  const read = async (gates: boolean) => {
    readAt = Date.now();
    unread = false;
    const { summary, tasksChanged } = await run.read(readAt, { gates });
    if (tasksChanged) for (const task of summary.tasks) keys.set(task.id, task.key);
    return summary;
  };
  let snapshot = await read(true);
  let drawn: RunSummary | null = null;
  let drawnAt = 0;
  if (options.json) emit({ type: "run", run: snapshot.run });
  try {
    for (let first = true; ; first = false) {
      const events = arrived.splice(0);
      const gateEvents = events.some((event) => event.type.startsWith("gate."));
      const urgent = first || gateEvents || events.some((event) => event.type.startsWith("run."));
      if (events.length > 0) unread = true;
      if (unread && (urgent || Date.now() - readAt >= READ_INTERVAL_MS)) snapshot = await read(first || gateEvents);
      for (const event of events) {
        const line = describeEvent(event, keys);
        recent.push(line);
        if (options.json) emit({ type: event.type, at: event.at, actor: event.actor, task: event.taskId === null ? null : (keys.get(event.taskId) ?? null), data: event.data });
        else if (!live) output.out(`${new Date(event.at).toISOString().slice(11, 23)} ${line}`);
        else if (prompter?.asking) prompter.print(paint(output, "dim", line));
        if (GATE_SETTLED.has(event.type)) {
          const gate = snapshot.gates.find((g) => g.id === (event.data as { gate: string }).gate);
          if (gate) prompter?.settled(gate);
        }
      }
      recent.splice(0, Math.max(0, recent.length - RECENT_LINES));
      if (TERMINAL_RUN_STATES.has(snapshot.run.state) || interrupted) break;
      if (first || gateEvents) {
        for (const gate of snapshot.gates) {
          if (gate.state !== "pending" || handled.has(gate.id)) continue;
          handled.add(gate.id);
          live?.clear(); // what bringGate prints goes where the view was; the view is drawn again below it
          await bringGate(options, gate, prompter, emit);
        }
      }
      if (live && prompter?.engaged) live.clear(); // a question is on the screen: the view stays out of its way
      else if (live && (drawn !== snapshot || Date.now() - drawnAt >= (options.pollMs ?? 200))) {
        // Redrawn after a read, and now and then for the elapsed times; not on every event in between.
        drawn = snapshot;
        drawnAt = Date.now();
        live.draw(progressLines(runProgress(snapshot.run, snapshot.tasks, recent, drawnAt)));
      }
      // Woken by new events; otherwise redrawn now and then for the elapsed times (sooner when a read is due).
      const pollMs = options.pollMs ?? 200;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, unread ? Math.min(pollMs, Math.max(0, READ_INTERVAL_MS - (Date.now() - readAt))) : pollMs);
      });
    }
  } finally {
    following.abort();
    await follower;
    await prompter?.close();
    live?.clear();
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    if (interrupted && !options.json) output.err(`stopping: letting running steps finish (Ctrl-C again to exit at once)`);
    process.on("SIGINT", forceExit);
    await Promise.all(drones.map((drone) => drone.stop(interrupted ? 5_000 : 0)));
    process.off("SIGINT", forceExit);
  }
  const end = await store.readRun(runId);
  return { run: end.run, tasks: end.tasks, interrupted };
}

/** What a plan gate holds that --yes may not approve on a person's behalf. */
function risksOf(gate: GateRecord): string[] {
  return isPlanReview(gate.evidence) ? gate.evidence.risks : [];
}

async function bringGate(options: SwarmOptions, gate: GateRecord, prompter: GatePrompter | null, emit: (record: Record<string, unknown>) => void): Promise<void> {
  const { store, output } = options;
  if (gate.taskKey === PLANNING_TASK_KEY && options.approvePlan) {
    const risks = risksOf(gate);
    if (risks.length === 0) {
      const approved = await approveGate(store, gate.id, `${defaultDecider()} (--yes)`);
      if (options.json) emit({ type: "gate.approved_by_yes", gate: approved.id });
      else output.out(`plan approved on your behalf (--yes): ${gate.question}`);
      return;
    }
    // A model wrote commands or agents into this plan: a person reads it, --yes or not.
    if (!options.json) output.out(paint(output, "yellow", `--yes does not approve this plan: it has ${risks.join(" and ")}; read it and decide`));
  }
  if (prompter) return prompter.offer(gate);
  const approve = `farcaster approve ${gate.id}`;
  const reject = `farcaster reject ${gate.id} --reason "..."`;
  if (options.json) {
    emit({ type: "gate.waiting", gate: gate.id, task: gate.taskKey, question: gate.question, evidence: gate.evidence, approve, reject });
    return;
  }
  output.out(`${paint(output, "yellow", "waiting for a person")} at gate ${gate.id} (${gate.taskKey}):`);
  printGate(output, gate, Date.now());
}

