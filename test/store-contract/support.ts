/** Small builders and observations the contract's modules share; all of them go through the Store interface. */
import { expect } from "bun:test";
import type { EventType } from "../../src/core/events.ts";
import type { WorkplanInput } from "../../src/core/workplan.ts";
import type { ClaimedTask, ClaimOptions, EventRecord, GateRequest, ScheduleInput, StepWrite, Store } from "../../src/store/types.ts";

export { plan, until } from "../helpers.ts";

/** A plan of tasks given in full (id, workflow noop and title filled in). */
export function tasks(...specs: ({ id: string } & Partial<WorkplanInput["tasks"][number]>)[]): WorkplanInput {
  return { goal: "test goal", tasks: specs.map((spec) => ({ title: `task ${spec.id}`, workflow: "noop", ...spec })) };
}

/** A journal entry; completed unless told otherwise. */
export function step(key: string, seq: number, fields: Partial<StepWrite> = {}): StepWrite {
  return { key, seq, kind: "step", status: "completed", input: null, output: null, error: null, startedAt: 0, endedAt: 0, ...fields };
}

/** Claims exactly one task (the best ready one) and fails the test when there is none. */
export async function claimOne(store: Store, worker = "w", leaseMs = 10_000, options: ClaimOptions = {}): Promise<ClaimedTask> {
  const claimed = await store.claimTasks(worker, 1, leaseMs, options);
  expect(claimed).toHaveLength(1);
  return claimed[0]!;
}

/** Claims the task with `key` among everything ready and leaves the rest claimed by `worker` too. */
export async function claimKey(store: Store, key: string, worker = "w", leaseMs = 10_000): Promise<ClaimedTask> {
  const claimed = await store.claimTasks(worker, 100, leaseMs);
  const found = claimed.find((c) => c.key === key);
  if (!found) throw new Error(`task ${key} was not claimable; claimed: ${claimed.map((c) => c.key).join(", ") || "nothing"}`);
  return found;
}

/** A gate request with everything filled in. */
export function gateRequest(id: string, fields: Partial<GateRequest> = {}): GateRequest {
  return { id, stepKey: "approve", question: `Go on (${id})?`, askedBy: "w (task)", ...fields };
}

/** A one-task run whose task suspends on a gate; `after` tasks depend on it. */
export async function runWaitingAtGate(store: Store, gate: Partial<GateRequest> = {}, dependents: string[] = []) {
  const run = await store.createRun(tasks({ id: "ask" }, ...dependents.map((id) => ({ id, after: ["ask"] }))));
  const claimed = await claimOne(store);
  const request = gateRequest(`g-${run.id}`, gate);
  await store.suspendTask(claimed.taskId, claimed.attemptId, {
    reason: `approval "${request.stepKey}"`,
    step: step(request.stepKey, 1, { kind: "approval", status: "waiting", output: { gateId: request.id }, endedAt: null }),
    gate: request,
  });
  return { run, claimed, gateId: request.id, taskId: claimed.taskId };
}

export function scheduleInput(name: string, fields: Partial<ScheduleInput> = {}): ScheduleInput {
  return { name, cron: "* * * * *", timezone: "UTC", targetKind: "goal_text", target: `goal of ${name}`, overlap: "allow", catchUp: "latest", ...fields };
}

/** Events of one type, with their data typed. */
export async function eventsOf<K extends EventType>(store: Store, type: K, filter: { runId?: string; taskId?: number } = {}) {
  const events = await store.listEvents({ ...filter, limit: 100_000 });
  return events.filter((event): event is Extract<EventRecord, { type: K }> => event.type === type);
}

export async function eventTypes(store: Store, filter: { runId?: string; taskId?: number; afterId?: number } = {}): Promise<string[]> {
  return (await store.listEvents({ ...filter, limit: 100_000 })).map((event) => event.type);
}

export async function states(store: Store, runId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await store.listTasks(runId)).map((task) => [task.key, task.state]));
}

/**
 * Everything the interface shows about a run and the whole event log: the run,
 * its tasks and gates, each task's attempts, journal and output, and every
 * event. Two observations are equal when nothing observable changed.
 */
export async function observe(store: Store, runId: string) {
  const snapshot = await store.readRun(runId);
  const perTask = [];
  for (const task of snapshot.tasks) {
    perTask.push({ key: task.key, attempts: await store.listAttempts(task.id), steps: await store.listSteps(task.id), logs: await store.listLogs(task.id) });
  }
  return { run: snapshot.run, tasks: snapshot.tasks, gates: snapshot.gates, perTask, events: await store.listEvents({ limit: 100_000 }) };
}
