/**
 * `farcaster plan GOAL.md`: the plan only. Reads the plan the goal file
 * carries, or asks the Architect's model for one, checks it, and prints the
 * DAG and its waves. Writes nothing, unless --save FILE asks for the plan as JSON.
 */
import { existsSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InputError, UsageError } from "../../core/errors.ts";
import type { ValidWorkplan } from "../../core/workplan.ts";
import { resolveModelConfig } from "../../architect/model.ts";
import { formatIssues, planGoal } from "../../architect/planGoal.ts";
import { prepareGoal } from "../../services/goals.ts";
import { commandWorkflows } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";
import { planTaskLines, type PlanTask } from "../../view/gate.ts";
import { paintLine, type Output } from "../output.ts";

/** One line per task (id, title, workflow, input, dependencies), then the waves. */
export function printTasksAndWaves(output: Output, tasks: readonly PlanTask[], waves: readonly string[][], indent: string, inputMax = Infinity): void {
  for (const line of planTaskLines(tasks, waves, inputMax)) output.out(indent + paintLine(output, line));
}

export function printPlan(output: Output, valid: ValidWorkplan): void {
  output.out(`goal: ${valid.plan.goal}`);
  output.out(`${valid.plan.tasks.length} tasks in ${valid.waves.length} waves`);
  printTasksAndWaves(output, valid.plan.tasks, valid.waves, "  ");
}

export const planCommand: Command = {
  name: "plan",
  summary: "plan a goal without running it: print the DAG and its waves",
  usage: "plan GOAL.md [--save PLAN.json]",
  positionals: [{ name: "GOAL.md", what: "a goal file (or a workplan .json)" }],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    save: { type: "string", valueName: "FILE", description: "write the plan as a workplan JSON file" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
  },
  async run(context) {
    const file = context.positionals[0]!;
    const save = stringOption(context, "save");
    if (save !== undefined) checkSavePath(save, file); // before any model call is spent
    const registry = await commandWorkflows(context);
    const prepared = await prepareGoal(file, registry);
    let valid = prepared.plan;
    let calls = 0;
    if (!valid) {
      const config = resolveModelConfig()!; // prepareGoal refused a plan-less goal without a model
      if (!context.values.json) context.output.err(`asking ${config.modelName} for a plan…`);
      const result = await planGoal({ goal: prepared.file.goal, workflows: registry, config, maxRepairs: 2, step: (_name, input, call) => call(input, new AbortController().signal) });
      calls = result.calls;
      if (!result.ok) throw new InputError(`the model's plan was still invalid after ${result.calls} attempts:\n${formatIssues(result.issues)}`);
      valid = result.plan;
    }
    if (save !== undefined) savePlan(save, JSON.stringify(valid.plan, null, 2) + "\n");
    if (context.values.json) context.output.json({ plan: valid.plan, waves: valid.waves, writtenBy: prepared.plan ? "goal file" : "model", modelCalls: calls });
    else {
      printPlan(context.output, valid);
      if (save) context.output.out(`saved to ${save}; run it with \`farcaster run ${save}\``);
    }
    return 0;
  },
};

/** Where --save may write: a file (new, or one to replace) in a directory that exists, never the goal file itself. */
function checkSavePath(save: string, goalFile: string): void {
  if (save.trim() === "") throw new UsageError("--save needs a file name, such as --save plan.json");
  const target = resolve(save);
  const existing = statSync(target, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new UsageError(`--save ${save}: that is a directory; name a file in it, such as ${save.replace(/\/$/, "")}/plan.json`);
  if (!existsSync(dirname(target))) throw new UsageError(`--save ${save}: the directory ${dirname(target)} does not exist; create it first or save elsewhere`);
  if (existing && existsSync(goalFile) && realpathSync(target) === realpathSync(goalFile)) {
    throw new UsageError(`--save ${save} would replace the goal file it plans; save the plan under another name, such as --save plan.json`);
  }
}

/** Written beside the target and renamed over it: an error leaves no half-written plan. */
function savePlan(save: string, text: string): void {
  const temporary = `${resolve(save)}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, save);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new InputError(`could not save the plan to ${save}: ${(error as Error).message}`);
  }
}
