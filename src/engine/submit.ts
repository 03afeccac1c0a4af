/**
 * Submitting a workplan: the DAG checks, then the checks only workflows can
 * make (unknown names, inputs that fail their schema), then the workflows'
 * default limits, and only then the run is written.
 */
import { PlanInvalidError } from "../core/errors.ts";
import { parseWorkplan, type ValidWorkplan, type Workplan } from "../core/workplan.ts";
import type { CreateRunOptions, RunRecord, Store } from "../store/types.ts";
import type { WorkflowRegistry } from "./registry.ts";

export function checkPlan(input: unknown, registry: WorkflowRegistry, source?: string): ValidWorkplan {
  const valid = parseWorkplan(input, source);
  const issues = registry.planIssues(valid.plan);
  if (issues.length > 0) throw new PlanInvalidError(issues, source);
  return { ...valid, plan: withWorkflowDefaults(valid.plan, registry) };
}

function withWorkflowDefaults(plan: Workplan, registry: WorkflowRegistry): Workplan {
  return {
    ...plan,
    tasks: plan.tasks.map((task) => {
      const limits = registry.get(task.workflow)?.limits;
      return {
        ...task,
        retries: task.retries ?? limits?.retries,
        timeout: task.timeout ?? limits?.timeoutMs,
      };
    }),
  };
}

export async function submitPlan(store: Store, registry: WorkflowRegistry, input: unknown, options: CreateRunOptions = {}): Promise<{ run: RunRecord; plan: ValidWorkplan }> {
  const plan = checkPlan(input, registry, options.source);
  const run = await store.createRun(plan.plan, options);
  return { run, plan };
}
