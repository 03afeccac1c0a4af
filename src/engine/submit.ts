/** Submitting a workplan: checked against the workflows (planCheck.ts), and only then written. */
import type { ValidWorkplan } from "../core/workplan.ts";
import type { CreateRunOptions, RunRecord, Store } from "../store/types.ts";
import { checkPlan } from "./planCheck.ts";
import type { WorkflowCatalog } from "./workflow.ts";

export { checkPlan } from "./planCheck.ts";

export async function submitPlan(store: Store, catalog: WorkflowCatalog, input: unknown, options: CreateRunOptions = {}): Promise<{ run: RunRecord; plan: ValidWorkplan }> {
  const plan = checkPlan(input, catalog, options.source);
  const run = await store.createRun(plan.plan, options);
  return { run, plan };
}
