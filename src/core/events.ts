/**
 * The event catalog: every type the store appends to the event log, with the
 * payload each carries. Events are facts for people and tools (farcaster log,
 * the live view, SSE, the dashboard); the store's state lives in its tables,
 * so a payload may grow new optional fields but never changes meaning.
 */
import type { FailReason, RejectAction, RunState } from "./states.ts";

export interface EventPayloads {
  /** A run from a workplan (tasks, waves) or to be planned (planning). */
  "run.created": { tasks?: number; waves?: number; planning?: boolean; source: string | null };
  /** The planning task's workplan joined the run. */
  "run.planned": { tasks: number; waves: string[][] };
  "run.succeeded": { failedTasks: number };
  "run.failed": { failedTasks: number };
  "run.cancelled": { cancelledTasks: number; reason: string | null };
  "run.resumed": { reopened: number; from: RunState };
  "task.started": { attempt: number };
  /** `unblocked`: the dependents this success made ready. */
  "task.succeeded": { unblocked: string[] };
  "task.retry_scheduled": { error: string; failures: number; maxAttempts: number; availableAt: number };
  /** `skipped`: the tasks downstream that can no longer run. */
  "task.failed": { reason: FailReason; error: string; skipped: string[] };
  /** `until`: when a sleep ends (null: until a person or a signal wakes it). */
  "task.waiting": { reason: string; until: number | null };
  "task.released": null;
  "task.lease_expired": { owner: string; crashes: number };
  "gate.opened": { gate: string; question: string };
  "gate.approved": { gate: string; question: string; reason: string | null; action: RejectAction | null };
  "gate.rejected": { gate: string; question: string; reason: string | null; action: RejectAction | null };
  "gate.expired": { gate: string; question: string; waitedMs: number };
  "gate.overdue": { gate: string; question: string; waitedMs: number };
  /** The run was cancelled while the gate was pending: nobody can decide it any more. */
  "gate.cancelled": { gate: string; question: string };
  "signal.emitted": { name: string; woken: number };
  "schedule.created": { schedule: string; cron: string; timezone: string };
  "schedule.paused": { schedule: string };
  "schedule.resumed": { schedule: string };
  "schedule.removed": { schedule: string };
  "schedule.missed": { schedule: string; missed: number; through: number; policy: string };
  "schedule.failed": { schedule: string; slot: number; error: string };
  "schedule.skipped": { schedule: string; slot: number; running: string[] };
  "schedule.fired": { schedule: string; slot: number; cancelled: string[] };
}

export type EventType = keyof EventPayloads;

const TYPES: Record<EventType, true> = {
  "run.created": true,
  "run.planned": true,
  "run.succeeded": true,
  "run.failed": true,
  "run.cancelled": true,
  "run.resumed": true,
  "task.started": true,
  "task.succeeded": true,
  "task.retry_scheduled": true,
  "task.failed": true,
  "task.waiting": true,
  "task.released": true,
  "task.lease_expired": true,
  "gate.opened": true,
  "gate.approved": true,
  "gate.rejected": true,
  "gate.expired": true,
  "gate.overdue": true,
  "gate.cancelled": true,
  "signal.emitted": true,
  "schedule.created": true,
  "schedule.paused": true,
  "schedule.resumed": true,
  "schedule.removed": true,
  "schedule.missed": true,
  "schedule.failed": true,
  "schedule.skipped": true,
  "schedule.fired": true,
};

export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.keys(TYPES) as EventType[]);

/** What happened to a schedule: its life (created, paused, resumed, removed) and the scheduler's decisions. */
export type ScheduleEventType = Extract<EventType, `schedule.${string}`>;
export const SCHEDULE_EVENT_TYPES: readonly ScheduleEventType[] = Object.freeze(EVENT_TYPES.filter((type): type is ScheduleEventType => type.startsWith("schedule.")));
/** The scheduler's decisions about a slot: what `schedule list` shows as a schedule's last. */
export const SCHEDULE_DECISION_TYPES: readonly ScheduleEventType[] = Object.freeze(["schedule.fired", "schedule.skipped", "schedule.missed", "schedule.failed"] as const);

/** The events that end a run. */
export const RUN_END_EVENTS: ReadonlySet<EventType> = new Set(["run.succeeded", "run.failed", "run.cancelled"]);

interface EventBase {
  /** Ids only grow: they double as stream cursors. */
  id: number;
  at: number;
  actor: string;
  runId: string | null;
  taskId: number | null;
  attemptId: number | null;
}

/** An event as read back: `data` is typed by `type`. */
export type EventRecord = { [K in EventType]: EventBase & { type: K; data: EventPayloads[K] } }[EventType];

/** One of a schedule's events, as read back. */
export type ScheduleEvent = Extract<EventRecord, { type: ScheduleEventType }>;

/** An event to append: the store adds id and time. */
export type EventWrite = {
  [K in EventType]: { type: K; actor: string; runId?: string | null; taskId?: number | null; attemptId?: number | null } & (EventPayloads[K] extends null
    ? { data?: null }
    : { data: EventPayloads[K] });
}[EventType];
