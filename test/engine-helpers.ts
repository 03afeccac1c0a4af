import { AttemptAbort } from "../src/engine/attemptAbort.ts";
import { z } from "zod";
import type { ManualClock } from "../src/core/clock.ts";
import { runAttempt, type AttemptResult } from "../src/engine/attempt.ts";
import { WorkflowRegistry } from "../src/engine/registry.ts";
import { submitPlan } from "../src/engine/submit.ts";
import { defineWorkflow, type Workflow, type WorkflowContext } from "../src/engine/workflow.ts";
import type { SqliteStore } from "../src/store/sqlite/store.ts";

/** A workflow from a function, accepting any input. */
export function workflow(name: string, run: (ctx: WorkflowContext, input: any) => Promise<unknown>, limits?: Workflow["limits"]) {
  return defineWorkflow({ name, input: z.any(), run, limits });
}

/** Submits a one-task plan running `wf` and returns the task's id. */
export async function submitOne(store: SqliteStore, wf: Workflow<any, any>, task: Record<string, unknown> = {}) {
  const registry = new WorkflowRegistry().register(wf);
  const { run } = await submitPlan(store, registry, { goal: "g", tasks: [{ id: "t", title: "t", workflow: wf.name, input: {}, ...task }] });
  const [record] = await store.listTasks(run.id);
  return { runId: run.id, taskId: record!.id, registry };
}

/** Claims the next task and runs one attempt of it in-process. */
export async function attemptOnce(store: SqliteStore, clock: ManualClock, wf: Workflow<any, any>, leaseMs = 10_000, worker = "w"): Promise<AttemptResult | null> {
  const [claimed] = await store.claimTasks(worker, 1, leaseMs);
  if (!claimed) return null;
  const workflows = new WorkflowRegistry().register(wf);
  return runAttempt({ store, clock, worker, claimed, workflow: wf, workflows, claimLeaseMs: leaseMs, abort: new AttemptAbort() });
}

/** Claims the next task and runs one attempt of it with whichever workflow of `registry` it names. */
export async function attemptWith(store: SqliteStore, clock: ManualClock, registry: WorkflowRegistry, leaseMs = 10_000, worker = "w"): Promise<AttemptResult | null> {
  const [claimed] = await store.claimTasks(worker, 1, leaseMs);
  if (!claimed) return null;
  const wf = registry.get(claimed.workflow);
  if (!wf) throw new Error(`test registry has no workflow "${claimed.workflow}"`);
  return runAttempt({ store, clock, worker, claimed, workflow: wf, workflows: registry, claimLeaseMs: leaseMs, abort: new AttemptAbort() });
}
