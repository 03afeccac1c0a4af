/**
 * Farcaster for people who embed it (`import … from "farcaster"`): define
 * workflows, open a store, run drones and schedulers, submit plans and wait
 * for their runs, decide gates, emit events, serve the API. Everything else
 * under src/ is internal and may change.
 */
export { defineWorkflow } from "./engine/workflow.ts";
export type { ApprovalDecision, ApprovalOptions, EventWait, EventWaitOptions, TaskInfo, Workflow, WorkflowContext, WorkflowLimits } from "./engine/workflow.ts";
export { Drone, type DroneOptions, type DroneEvent } from "./engine/drone.ts";
export { Scheduler } from "./engine/scheduler.ts";
export { loadWorkflows, loadWorkflowDir, WorkflowRegistry } from "./engine/registry.ts";
export { checkPlan, submitPlan } from "./engine/submit.ts";
export { waitForRun } from "./engine/waitForRun.ts";
export { openStore, resolveDbPath, SqliteStore, PostgresStore } from "./store/index.ts";
export type * from "./store/types.ts";
export { parseWorkplan, validateWorkplan, WorkplanSchema, type Workplan, type ValidWorkplan } from "./core/workplan.ts";
export * from "./core/errors.ts";
export { TASK_STATES, RUN_STATES, TERMINAL_RUN_STATES, ATTEMPT_STATES, GATE_STATES, FAIL_REASONS } from "./core/states.ts";
export { ManualClock, systemClock, type Clock } from "./core/clock.ts";
export { createApp } from "./api/app.ts";
export { approveGate, rejectGate } from "./services/gates.ts";
export { emitSignal } from "./services/signals.ts";
export { addSchedule, fireInput, type AddScheduleOptions, type FireOptions } from "./services/schedules.ts";
