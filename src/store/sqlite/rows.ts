/** Row shapes as SQLite returns them, and their mapping to the Store's records. */
import type { AttemptState, FailReason, RunState, TaskState } from "../../core/states.ts";
import type { AttemptRecord, EventRecord, GateRecord, RunRecord, StepRecord, StepStatus, TaskRecord } from "../types.ts";

export function fromJson<T = unknown>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export interface RunRow {
  id: string;
  goal: string;
  state: RunState;
  source: string | null;
  source_hash: string | null;
  cwd: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  tasks_total: number;
  tasks_open: number;
  tasks_failed: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** A run with its goal, which lives in run_plans (see the schema); filter and order on `r.`. */
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
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

export interface TaskRow {
  id: number;
  run_id: string;
  key: string;
  title: string;
  description: string | null;
  workflow: string;
  input: string;
  scope: string | null;
  priority: number;
  max_attempts: number;
  timeout_ms: number | null;
  state: TaskState;
  pending_deps: number;
  attempts: number;
  failures: number;
  crashes: number;
  available_at: number;
  attempt_id: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  output: string | null;
  error: string | null;
  fail_reason: FailReason | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  after_keys: string | null;
  feedback: string | null;
}

/** The `after_keys` column is a JSON array built by a correlated subquery. */
export const TASK_SELECT = `SELECT t.*, (SELECT json_group_array(d.key) FROM task_deps e JOIN tasks d ON d.id = e.depends_on WHERE e.task_id = t.id) AS after_keys FROM tasks t`;

export function toTask(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    runId: row.run_id,
    key: row.key,
    title: row.title,
    description: row.description,
    workflow: row.workflow,
    input: fromJson(row.input),
    scope: fromJson(row.scope),
    priority: row.priority,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    state: row.state,
    pendingDeps: row.pending_deps,
    attempts: row.attempts,
    failures: row.failures,
    crashes: row.crashes,
    availableAt: row.available_at,
    attemptId: row.attempt_id,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    output: fromJson(row.output),
    error: fromJson(row.error),
    failReason: row.fail_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    after: (fromJson<string[]>(row.after_keys) ?? []).sort(),
    feedback: fromJson(row.feedback) ?? [],
  };
}

export interface AttemptRow {
  id: number;
  task_id: number;
  number: number;
  worker: string;
  state: AttemptState;
  started_at: number;
  heartbeat_at: number;
  ended_at: number | null;
  error: string | null;
}

export function toAttempt(row: AttemptRow): AttemptRecord {
  return {
    id: row.id,
    taskId: row.task_id,
    number: row.number,
    worker: row.worker,
    state: row.state,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    endedAt: row.ended_at,
    error: fromJson(row.error),
  };
}

export interface EventRow {
  id: number;
  at: number;
  type: string;
  actor: string;
  run_id: string | null;
  task_id: number | null;
  attempt_id: number | null;
  data: string | null;
}

/** The row's type and data were written together by appendEvent, from the catalog. */
export function toEvent(row: EventRow): EventRecord {
  return {
    id: row.id,
    at: row.at,
    type: row.type as EventRecord["type"],
    actor: row.actor,
    runId: row.run_id,
    taskId: row.task_id,
    attemptId: row.attempt_id,
    data: fromJson(row.data),
  } as EventRecord;
}

export interface StepRow {
  task_id: number;
  key: string;
  seq: number;
  kind: string;
  attempt_id: number;
  status: StepStatus;
  input: string | null;
  output: string | null;
  error: string | null;
  started_at: number;
  ended_at: number | null;
  usage_input_tokens: number | null;
  usage_output_tokens: number | null;
}

export function toStep(row: StepRow): StepRecord {
  return {
    taskId: row.task_id,
    key: row.key,
    seq: row.seq,
    kind: row.kind,
    attemptId: row.attempt_id,
    status: row.status,
    input: fromJson(row.input),
    output: fromJson(row.output),
    error: fromJson(row.error),
    startedAt: row.started_at,
    endedAt: row.ended_at,
    usage: row.usage_input_tokens === null ? null : { inputTokens: row.usage_input_tokens, outputTokens: row.usage_output_tokens ?? 0 },
  };
}

export interface GateRow {
  id: string;
  run_id: string | null;
  task_id: number | null;
  task_key: string | null;
  schedule_id: string | null;
  schedule_name: string | null;
  step_key: string | null;
  question: string;
  evidence: string | null;
  subject_hash: string | null;
  asked_by: string | null;
  state: GateRecord["state"];
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
  action: GateRecord["action"];
  timeout_at: number | null;
  on_timeout: GateRecord["onTimeout"];
  overdue_at: number | null;
  created_at: number;
}

export const GATE_SELECT =
  "SELECT g.*, t.key AS task_key, s.name AS schedule_name FROM gates g LEFT JOIN tasks t ON t.id = g.task_id LEFT JOIN schedules s ON s.id = g.schedule_id";

export function toGate(row: GateRow): GateRecord {
  return {
    id: row.id,
    runId: row.run_id,
    taskId: row.task_id,
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
    decidedAt: row.decided_at,
    reason: row.reason,
    action: row.action,
    timeoutAt: row.timeout_at,
    onTimeout: row.on_timeout,
    overdueAt: row.overdue_at,
    createdAt: row.created_at,
  };
}
