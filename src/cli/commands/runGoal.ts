/**
 * The main job: `farcaster goal.md` (or `farcaster run goal.md`). Plans the
 * goal (from the file, or with the Architect's model), shows the plan for
 * review, runs the swarm in this process with live progress, prints a summary,
 * and exits 0 only if every task succeeded.
 */
import { UsageError } from "../../core/errors.ts";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import type { WorkflowRegistry } from "../../engine/registry.ts";
import { prepareGoal, startGoalRun } from "../../services/goals.ts";
import type { Store } from "../../store/types.ts";
import { commandWorkflows, intOption, openCommandStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command, type CommandContext, type OptionSpec } from "../command.ts";
import { printSummary } from "../progress.ts";
import { defaultWorkers, runSwarm } from "../swarm.ts";

export const SWARM_OPTIONS: Record<string, OptionSpec> = {
  workers: { type: "string", short: "w", valueName: "N", description: "drones in this process (default: max(4, cores))" },
  workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
};

function workerCount(context: CommandContext): number {
  return intOption(context, "workers", { min: 1, max: 256, fallback: defaultWorkers() });
}

/** Runs the swarm on a run until it ends (or Ctrl-C) and reports; returns the exit code. */
async function driveRun(context: CommandContext, store: Store, registry: WorkflowRegistry, runId: string, options: { approvePlan: boolean; workers: number }): Promise<number> {
  const json = Boolean(context.values.json);
  const end = await runSwarm({
    store, registry, runId, output: context.output,
    workers: options.workers,
    interactive: Boolean(process.stdout.isTTY && process.stdin.isTTY) && !json,
    json,
    approvePlan: options.approvePlan,
  });
  const resume = `farcaster resume ${runId}`;
  if (json) context.output.out(JSON.stringify({ type: "summary", run: end.run, tasks: end.tasks, interrupted: end.interrupted, ...(end.interrupted ? { resume } : {}) }));
  else if (end.interrupted) {
    context.output.out(`run ${runId} paused; its leases were released. Continue with: ${resume}`);
  } else printSummary(context.output, end.run, end.tasks.filter((task) => task.key !== PLANNING_TASK_KEY || task.state !== "succeeded"));
  if (end.interrupted) return 130;
  return end.run.state === "succeeded" ? 0 : 1;
}

/** Task ids shown per wave when a run starts (the plan's review, at its gate or `farcaster plan`, shows them all). */
const WAVE_IDS_SHOWN = 12;

function waveLine(wave: readonly string[]): string {
  if (wave.length <= WAVE_IDS_SHOWN) return wave.join(", ");
  return `${wave.slice(0, WAVE_IDS_SHOWN).join(", ")} and ${(wave.length - WAVE_IDS_SHOWN).toLocaleString("en-US")} more`;
}

export const runCommand: Command = {
  name: "run",
  summary: "plan a goal file and run it to the end with a local swarm (also: farcaster GOAL.md)",
  usage: "run GOAL.md",
  positionals: [{ name: "GOAL.md", what: "a goal file (or a workplan .json)" }],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    ...SWARM_OPTIONS,
    yes: { type: "boolean", short: "y", description: "approve the plan on your behalf (recorded as such)" },
    new: { type: "boolean", description: "start a new run even if this goal file has an unfinished one" },
    detach: { type: "boolean", description: "only create the run; drones started elsewhere (farcaster worker) do the work" },
  },
  async run(context) {
    const file = context.positionals[0]!;
    if (context.values.detach && context.values.yes) {
      // --yes approves the plan at its gate from this process's swarm; a detached run has none here.
      throw new UsageError("--yes approves the plan from this process, and --detach leaves it to drones elsewhere: leave out one of them (approve a detached run's plan with `farcaster approve GATE` once it waits)");
    }
    const registry = await commandWorkflows(context);
    const workers = workerCount(context); // a bad value is refused before anything is written
    const interactive = Boolean(process.stdout.isTTY && process.stdin.isTTY) && !context.values.json;
    const yes = Boolean(context.values.yes);
    // Everything wrong with the goal file is found before the database is even opened.
    const prepared = await prepareGoal(file, registry);
    // A run driven here lives as long as its drones: it shares the file's writer (see sqlite/shared).
    const store = await openCommandStore(context, "create", { share: !context.values.detach });
    try {
      const started = await startGoalRun(store, prepared, {
        review: interactive || yes,
        forceNew: Boolean(context.values.new),
      });
      const { run, resumed } = started;
      if (!context.values.json) {
        if (resumed) context.output.out(`${file} already has an unfinished run, ${run.id} (${run.state}); resuming it (--new starts another)`);
        else if (prepared.plan) {
          context.output.out(`run ${run.id}: ${prepared.plan.plan.tasks.length} tasks in ${prepared.plan.waves.length} waves, from ${file}`);
          prepared.plan.waves.forEach((wave, i) => context.output.out(`  wave ${i + 1}: ${waveLine(wave)}`));
        } else context.output.out(`run ${run.id}: the Architect is planning ${file}`);
      }
      if (context.values.detach) {
        if (context.values.json) context.output.out(JSON.stringify({ type: "run", run, resumed }));
        else context.output.out(`${resumed ? "" : "created; "}start drones with \`farcaster worker\`, watch with \`farcaster status ${run.id}\``);
        return 0;
      }
      return await driveRun(context, store, registry, run.id, { approvePlan: yes, workers });
    } finally {
      await store.close();
    }
  },
};

export const resumeCommand: Command = {
  name: "resume",
  summary: "continue a run with a local swarm (a failed or cancelled one is reopened after its last successful steps)",
  usage: "resume RUN",
  positionals: [{ name: "RUN", what: "a run id", hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, ...SWARM_OPTIONS, yes: { type: "boolean", short: "y", description: "approve the plan on your behalf" } },
  async run(context) {
    const runId = context.positionals[0]!;
    // Options and workflows are checked before the run is touched: a bad one must not leave it reopened with nobody driving it.
    const workers = workerCount(context);
    const registry = await commandWorkflows(context);
    const store = await openCommandStore(context, "existing", { share: true });
    try {
      const before = await store.getRun(runId);
      const { run, reopened } = await store.resumeRun(runId, { actor: "cli" });
      if (!context.values.json) {
        context.output.out(reopened > 0 ? `reopened ${reopened} unfinished task(s) of ${before.state} run ${runId}; resuming` : `resuming run ${runId} (${run.state})`);
      }
      return await driveRun(context, store, registry, runId, { approvePlan: Boolean(context.values.yes), workers });
    } finally {
      await store.close();
    }
  },
};
