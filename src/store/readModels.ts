/**
 * What viewers and operators read from the Store: a run as one snapshot or
 * as summaries (the dashboard), task counts, the drones seen, the open tasks
 * (`farcaster doctor`), the database, the totals for /metrics. Re-exported
 * by types.ts: import from there.
 */
import type { EventRecord, EventType } from "../core/events.ts";
import type { AttemptState, GateState, RunState, TaskState } from "../core/states.ts";
import type { GateRecord, RunRecord, TaskRecord } from "./records.ts";

/** A run as one snapshot: the run, all its tasks and gates, and its events after a cursor. */
export interface RunSnapshot {
  run: RunRecord;
  tasks: TaskRecord[];
  gates: GateRecord[];
  events: EventRecord[];
}

/**
 * A task without its input, output, scope and description: what a board of
 * thousands of tasks shows, read in a fraction of the time of TaskRecord.
 */
export type TaskSummary = Pick<
  TaskRecord,
  | "id" | "runId" | "key" | "title" | "workflow" | "state" | "attempts" | "maxAttempts" | "attemptId" | "leaseOwner"
  | "leaseExpiresAt" | "failReason" | "error" | "updatedAt" | "startedAt" | "finishedAt" | "after"
> & {
  /** When the current attempt started (a running task); null otherwise. */
  attemptStartedAt: number | null;
};

/** A run for a viewer: the run, its tasks as summaries (all, or those changed since a time) and its gates, read in one snapshot. */
export interface RunSummary {
  run: RunRecord;
  tasks: TaskSummary[];
  /** How many tasks the run has: more than `tasks` when only changed ones were asked for. */
  taskCount: number;
  gates: GateRecord[];
}

/** Task counts by state, the planning task left out. */
export type StateCounts = Partial<Record<TaskState, number>>;

/** A lease a drone holds now (its task is running), with its attempt's times. */
export interface HeldLease {
  taskId: number;
  runId: string;
  key: string;
  attemptId: number;
  leaseExpiresAt: number;
  startedAt: number;
  heartbeatAt: number;
}

/** A drone as the database knows it: from its attempts and their heartbeats. */
export interface DroneRecord {
  /** The worker id it claims with (`host:pid:…` by default). */
  id: string;
  /** Its latest heartbeat (or attempt start) seen. */
  lastHeartbeatAt: number;
  /** Attempts of its seen among the recent ones. */
  attempts: number;
  /** Workflows of the tasks its recent attempts ran and of the leases it holds, sorted (only when asked: `withWorkflows`). */
  workflows?: string[];
  /** Those of `workflows` that one of its recent attempts finished successfully, sorted (only with `withWorkflows`): evidence that its environment can run them. */
  succeededWorkflows?: string[];
  /** What it holds now, by lease expiry; an expired lease not yet reclaimed stays here. */
  leases: HeldLease[];
}

/** What a drone's recent attempts ran (DroneRecord.workflows) and which of those succeeded (succeededWorkflows). */
export interface DroneWorkflows {
  workflows: string[];
  succeeded: string[];
}

/**
 * An unfinished task as an operator's check sees it (`farcaster doctor`): what
 * it waits on, and who could move it next. Only tasks of unfinished runs.
 */
export interface OpenTaskRecord {
  id: number;
  runId: string;
  key: string;
  workflow: string;
  state: "blocked" | "ready" | "running" | "waiting";
  /** ready: not before; waiting: when its timer ends (a sleep, an event's timeout); null: it waits to be woken. */
  availableAt: number | null;
  /** The event a waiting task waits for (ctx.waitForEvent). */
  waitingFor: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** When its state last changed (a ready task: when it became ready; a waiting one: when it began to wait). */
  updatedAt: number;
  /** Keys of the tasks it depends on, sorted. */
  after: string[];
}

/** The database behind a store, for `farcaster doctor`. */
export type DatabaseInfo =
  | {
      dialect: "sqlite";
      path: string;
      schemaVersion: number;
      /** The newest migration this code knows. */
      latestVersion: number;
      fileBytes: number;
      /** The write-ahead log beside the file (0 when there is none). */
      walBytes: number;
      journalMode: string;
      /** The `synchronous` mode this process's writers use (FARCASTER_SYNC): per connection, not stored in the file. */
      syncMode: "normal" | "full";
    }
  | {
      dialect: "postgres";
      /** The server as a URL without its password. */
      target: string;
      schema: string;
      schemaVersion: number;
      latestVersion: number;
      /** `server_version` as the server reports it. */
      serverVersion: string;
    };
/** Durations bucketed as a Prometheus histogram: observations at or below each bound. */
export interface DurationHistogram {
  /** Upper bounds in ms, ascending, as asked for. */
  boundsMs: number[];
  /** Observations at or below each bound (cumulative). */
  cumulative: number[];
  count: number;
  sumMs: number;
}

/** How a schedule's slots went: fired (a run), skipped (overlap), failed (the goal could not be prepared), missed (not caught up). */
export type ScheduleDecision = "fired" | "skipped" | "failed" | "missed";

/**
 * Totals over the whole database for /metrics, read in one snapshot from
 * what the store records anyway (tasks, attempts, gates, events): every
 * drone's work counts, whichever process did it. Everything but `runs`,
 * `tasks`, `gatesPending` and `oldestPendingGateAt` (the tables now) only
 * grows: it is read from rows the store never deletes (see metrics.ts).
 */
export interface MetricsSnapshot {
  runs: Partial<Record<RunState, number>>;
  /** Tasks now, by workflow and state (the planning tasks are workflow `architect`). */
  tasks: { workflow: string; state: TaskState; count: number }[];
  /** Attempts ever made: one per claim. */
  claims: number;
  /** Attempts by how they ended (a running attempt has not). */
  attemptsEnded: Partial<Record<Exclude<AttemptState, "running">, number>>;
  /** Events by type, all of them ever appended (task.succeeded, task.lease_expired, ...). */
  events: Partial<Record<EventType, number>>;
  /** Schedule decisions by schedule name: `count` events, `slots` the slots they cover (a miss may cover many). */
  schedules: { schedule: string; decision: ScheduleDecision; count: number; slots: number }[];
  gatesPending: number;
  /** When the longest-waiting pending gate was opened (null: none pending). */
  oldestPendingGateAt: number | null;
  /** How long decided gates of runs (a task's or a plan's) waited, by how they ended; a schedule's approval gate is not counted. */
  gateWaits: { state: Exclude<GateState, "pending">; histogram: DurationHistogram }[];
  /** How long ended attempts held their task (claim to end), by the task's workflow and how the attempt ended. */
  attemptDurations: { workflow: string; state: Exclude<AttemptState, "running">; histogram: DurationHistogram }[];
}

export interface MetricsOptions {
  /** Bucket bounds (ms, ascending) of the attempt durations and of the gate waits. */
  attemptBucketsMs: readonly number[];
  gateBucketsMs: readonly number[];
}

/** The last events, oldest first, with the workplan ids of the tasks they name. */
export interface EventTail {
  events: EventRecord[];
  taskKeys: Record<number, string>;
}
