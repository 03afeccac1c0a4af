/**
 * `farcaster plan GOAL.md`: the plan only. Reads the plan the goal file
 * carries, or asks the Architect's model for one, checks it, and prints the
 * DAG and its waves. Writes nothing, unless --save FILE asks for the plan as JSON.
 */
import { writeFileSync } from "node:fs";
import { InputError } from "../../core/errors.ts";
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
    const save = stringOption(context, "save");
    if (save) writeFileSync(save, JSON.stringify(valid.plan, null, 2) + "\n");
    if (context.values.json) context.output.json({ plan: valid.plan, waves: valid.waves, writtenBy: prepared.plan ? "goal file" : "model", modelCalls: calls });
    else {
      printPlan(context.output, valid);
      if (save) context.output.out(`saved to ${save}; run it with \`farcaster run ${save}\``);
    }
    return 0;
  },
};
