/**
 * Checking a workplan against the workflows that will run it: the DAG rules
 * (src/core/workplan.ts), then what only the workflows can tell (unknown
 * names, inputs that fail a workflow's schema), then the workflows' default
 * limits filled in. Works on any WorkflowCatalog, so the registry and a
 * workflow (the Architect) check plans the same way.
 */
import { PlanInvalidError, type PlanIssue } from "../core/errors.ts";
import { formatPath, planLimitIssues, validateWorkplanShape, type ValidWorkplan, type Workplan } from "../core/workplan.ts";
import type { WorkflowCatalog } from "./workflow.ts";

/**
 * Validates a workplan; throws PlanInvalidError with every problem and its
 * path, all at once: a cycle does not hide an unknown workflow or a bad input.
 */
export function checkPlan(input: unknown, catalog: WorkflowCatalog, source?: string): ValidWorkplan {
  // Over its limits, a plan is not checked further: the workflows' schemas may recurse into an input.
  const limits = planLimitIssues(input);
  if (limits.length > 0) throw new PlanInvalidError(limits, source);
  const result = validateWorkplanShape(input);
  const rawTasks = (input as { tasks?: unknown })?.tasks;
  const tasks = result.ok ? result.value.plan.tasks : Array.isArray(rawTasks) ? (rawTasks as TaskLike[]) : [];
  const issues = [...(result.ok ? [] : result.issues), ...planIssues({ tasks }, catalog)];
  if (!result.ok || issues.length > 0) throw new PlanInvalidError(issues, source);
  return { ...result.value, plan: withWorkflowDefaults(result.value.plan, catalog) };
}

/** What the workflow checks look at, in a plan that may not have passed its schema. */
type TaskLike = { id?: unknown; workflow?: unknown; input?: unknown };

/** Unknown workflow names and inputs that fail a workflow's schema, each with its path. */
export function planIssues(plan: { tasks: readonly TaskLike[] }, catalog: WorkflowCatalog): PlanIssue[] {
  const plannable = catalog.plannable();
  const issues: PlanIssue[] = [];
  plan.tasks.forEach((task, index) => {
    if (typeof task !== "object" || task === null || typeof task.workflow !== "string") return; // the schema's problem, reported already
    const workflow = plannable.includes(task.workflow) ? catalog.get(task.workflow) : undefined;
    if (!workflow) {
      issues.push({ path: `tasks[${index}].workflow`, message: `task "${task.id}" names unknown workflow "${task.workflow}"; known workflows: ${plannable.join(", ") || "(none)"}` });
      return;
    }
    const parsed = workflow.input.safeParse(task.input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        issues.push({ path: formatPath([`tasks[${index}].input`, ...issue.path]), message: `task "${task.id}" (workflow ${task.workflow}): ${issue.message}` });
      }
    }
  });
  return issues;
}

function withWorkflowDefaults(plan: Workplan, catalog: WorkflowCatalog): Workplan {
  return {
    ...plan,
    tasks: plan.tasks.map((task) => {
      const limits = catalog.get(task.workflow)?.limits;
      return { ...task, retries: task.retries ?? limits?.retries, timeout: task.timeout ?? limits?.timeoutMs };
    }),
  };
}
