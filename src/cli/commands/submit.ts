/** `farcaster run PLAN.json`: validates a workplan, creates its run, and shows it. */
import { resolve } from "node:path";
import { UsageError } from "../../core/errors.ts";
import { loadWorkflows } from "../../engine/registry.ts";
import { checkPlan } from "../../engine/submit.ts";
import { openStore } from "../../store/index.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";
import { readPlanFile } from "../planFile.ts";
import { printRun } from "./status.ts";

export const runCommand: Command = {
  name: "run",
  summary: "create a run from a workplan file and show it",
  usage: "run PLAN.json",
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
    "idempotency-key": { type: "string", valueName: "KEY", description: "a retried call with the same key returns the same run" },
  },
  async run(context) {
    const file = context.positionals[0];
    if (!file) throw new UsageError("run needs a workplan file: farcaster run PLAN.json");
    const registry = await loadWorkflows({ dirs: [stringOption(context, "workflows") ?? ""] });
    // Validated whole (DAG, workflows, inputs) before the database is even opened.
    const valid = checkPlan(readPlanFile(file), registry, file);
    const store = openStore({ db: stringOption(context, "db") });
    try {
      const run = await store.createRun(valid.plan, {
        source: resolve(file),
        cwd: process.cwd(),
        idempotencyKey: stringOption(context, "idempotency-key"),
        actor: "cli",
      });
      const tasks = await store.listTasks(run.id);
      if (context.values.json) context.output.json({ run, waves: valid.waves, tasks });
      else {
        context.output.out(`created run ${run.id} from ${file}: ${tasks.length} tasks in ${valid.waves.length} waves`);
        valid.waves.forEach((wave, index) => context.output.out(`  wave ${index + 1}: ${wave.join(", ")}`));
        context.output.out("");
        printRun(context.output, run, tasks);
        context.output.out("");
        context.output.out(`start drones with \`farcaster worker\` to run it; watch with \`farcaster status ${run.id}\``);
      }
      return 0;
    } finally {
      store.close();
    }
  },
};
