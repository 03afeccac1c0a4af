/**
 * Row shapes as Bun.SQL returns them from PostgreSQL, and their mapping to
 * the Store's records. int8 columns (ids, times, token counts) arrive as
 * strings; integer ones as numbers; JSON is text (see the migration).
 */
import type { AttemptState, FailReason, RunState, TaskState } from "../../core/states.ts";
import type { AttemptRecord, EventRecord, GateRecord, LogRecord, RunRecord, StepRecord, StepStatus, TaskRecord } from "../types.ts";
import { fromJson, num } from "./sqlText.ts";

type Int8 = string;

export interface RunRow {
  id: string;
  goal: string;
  state: RunState;
  source: string | null;
  cwd: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  tasks_total: number;
  tasks_open: number;
  tasks_failed: number;
  source_hash: string | null;
  created_at: Int8;
  updated_at: Int8;
  finished_at: Int8 | null;
}

/** A run with its goal, which lives in run_plans; filter and order on `r.`. */
export const RUN_SELECT = `SELECT r.id, p.goal, r.state, r.source, r.source_hash, r.cwd, r.idempotency_key, r.request_hash, r.tasks_total, r.tasks_open, r.tasks_failed,
  r.created_at, r.updated_at, r.finished_at FROM runs r JOIN run_plans p ON p.run_id = r.id`;

export function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    goal: row.goal,
    state: row.state,
    source: row.source,
    sourceHash: row.source_hash,
    cwd: row.cwd,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    tasksTotal: row.tasks_total,
    tasksOpen: row.tasks_open,
    tasksFailed: row.tasks_failed,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    finishedAt: num(row.finished_at),
  };
}

export interface TaskRow {
  id: Int8;
  run_id: string;
  key: string;
  title: string;
  description: string | null;
  workflow: string;
  input: string;
  scope: string | null;
  priority: number;
  max_attempts: number;
  timeout_ms: Int8 | null;
  state: TaskState;
  pending_deps: number;
  attempts: number;
  failures: number;
  crashes: number;
  available_at: Int8;
  attempt_id: Int8 | null;
  lease_owner: string | null;
  lease_expires_at: Int8 | null;
  output: string | null;
  error: string | null;
  fail_reason: FailReason | null;
  created_at: Int8;
  updated_at: Int8;
  started_at: Int8 | null;
  finished_at: Int8 | null;
  feedback: string | null;
  after_keys: string[];
}

/** `after_keys`: the keys of the task's dependencies. */
export const TASK_SELECT = `SELECT t.id, t.run_id, t.key, t.title, t.description, t.workflow, t.input, t.scope, t.priority, t.max_attempts, t.timeout_ms,
  t.state, t.pending_deps, t.attempts, t.failures, t.crashes, t.available_at, t.attempt_id, t.lease_owner, t.lease_expires_at, t.output, t.error,
  t.fail_reason, t.created_at, t.updated_at, t.started_at, t.finished_at, t.feedback,
  ARRAY(SELECT d.key FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = t.id) AS after_keys
  FROM tasks t`;

export function toTask(row: TaskRow): TaskRecord {
  return {
    id: num(row.id),
    runId: row.run_id,
    key: row.key,
    title: row.title,
    description: row.description,
    workflow: row.workflow,
    input: fromJson(row.input),
    scope: fromJson(row.scope),
    priority: row.priority,
    maxAttempts: row.max_attempts,
    timeoutMs: num(row.timeout_ms),
    state: row.state,
    pendingDeps: row.pending_deps,
    attempts: row.attempts,
    failures: row.failures,
    crashes: row.crashes,
    availableAt: num(row.available_at),
    attemptId: num(row.attempt_id),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: num(row.lease_expires_at),
    output: fromJson(row.output),
    error: fromJson(row.error),
    failReason: row.fail_reason,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    startedAt: num(row.started_at),
    finishedAt: num(row.finished_at),
    after: [...(row.after_keys ?? [])].sort(),
    feedback: fromJson(row.feedback) ?? [],
  };
}

export interface AttemptRow {
  id: Int8;
  task_id: Int8;
  number: number;
  worker: string;
  state: AttemptState;
  started_at: Int8;
  heartbeat_at: Int8;
  ended_at: Int8 | null;
  error: string | null;
}

export function toAttempt(row: AttemptRow): AttemptRecord {
  return {
    id: num(row.id),
    taskId: num(row.task_id),
    number: row.number,
    worker: row.worker,
    state: row.state,
    startedAt: num(row.started_at),
    heartbeatAt: num(row.heartbeat_at),
    endedAt: num(row.ended_at),
    error: fromJson(row.error),
  };
}

export interface EventRow {
  id: Int8;
  at: Int8;
  type: string;
  actor: string;
  run_id: string | null;
  task_id: Int8 | null;
  attempt_id: Int8 | null;
  data: string | null;
}

/** The row's type and data were written together by appendEvent, from the catalog. */
export function toEvent(row: EventRow): EventRecord {
  return {
    id: num(row.id),
    at: num(row.at),
    type: row.type as EventRecord["type"],
    actor: row.actor,
    runId: row.run_id,
    taskId: num(row.task_id),
    attemptId: num(row.attempt_id),
    data: fromJson(row.data),
  } as EventRecord;
}

export interface StepRow {
  task_id: Int8;
  key: string;
  seq: number;
  kind: string;
  attempt_id: Int8;
  status: StepStatus;
  input: string | null;
  output: string | null;
  error: string | null;
  started_at: Int8;
  ended_at: Int8 | null;
  usage_input_tokens: Int8 | null;
  usage_output_tokens: Int8 | null;
}

export function toStep(row: StepRow): StepRecord {
  return {
    taskId: num(row.task_id),
    key: row.key,
    seq: row.seq,
    kind: row.kind,
    attemptId: num(row.attempt_id),
    status: row.status,
    input: fromJson(row.input),
    output: fromJson(row.output),
    error: fromJson(row.error),
    startedAt: num(row.started_at),
    endedAt: num(row.ended_at),
    usage: row.usage_input_tokens === null ? null : { inputTokens: num(row.usage_input_tokens), outputTokens: num(row.usage_output_tokens) ?? 0 },
  };
}

export interface GateRow {
  id: string;
  run_id: string | null;
  schedule_id: string | null;
  schedule_name: string | null;
  task_id: Int8 | null;
  task_key: string | null;
  step_key: string | null;
  question: string;
  evidence: string | null;
  subject_hash: string | null;
  asked_by: string | null;
  state: GateRecord["state"];
  decided_by: string | null;
  decided_at: Int8 | null;
  reason: string | null;
  action: GateRecord["action"];
  timeout_at: Int8 | null;
  on_timeout: GateRecord["onTimeout"];
  overdue_at: Int8 | null;
  created_at: Int8;
}

export const GATE_SELECT = `SELECT g.id, g.run_id, g.task_id, t.key AS task_key, g.schedule_id, s.name AS schedule_name, g.step_key, g.question, g.evidence, g.subject_hash, g.asked_by, g.state,
  g.decided_by, g.decided_at, g.reason, g.action, g.timeout_at, g.on_timeout, g.overdue_at, g.created_at
  FROM gates g LEFT JOIN tasks t ON t.id = g.task_id LEFT JOIN schedules s ON s.id = g.schedule_id`;

export function toGate(row: GateRow): GateRecord {
  return {
    id: row.id,
    runId: row.run_id,
    taskId: num(row.task_id),
    taskKey: row.task_key,
    scheduleId: row.schedule_id,
    scheduleName: row.schedule_name,
    stepKey: row.step_key,
    question: row.question,
    evidence: fromJson(row.evidence),
    subjectHash: row.subject_hash,
    askedBy: row.asked_by,
    state: row.state,
    decidedBy: row.decided_by,
    decidedAt: num(row.decided_at),
    reason: row.reason,
    action: row.action,
    timeoutAt: num(row.timeout_at),
    onTimeout: row.on_timeout,
    overdueAt: num(row.overdue_at),
    createdAt: num(row.created_at),
  };
}

export interface LogRow {
  id: Int8;
  task_id: Int8;
  attempt_id: Int8;
  at: Int8;
  stream: LogRecord["stream"];
  text: string;
}

export function toLog(row: LogRow): LogRecord {
  return { id: num(row.id), taskId: num(row.task_id), attemptId: num(row.attempt_id), at: num(row.at), stream: row.stream, text: row.text };
}
