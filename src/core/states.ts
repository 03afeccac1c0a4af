/**
 * Closed state sets. Each constant is mirrored by a CHECK constraint in
 * migrations/sqlite/0001_init.sql; a test keeps the two in sync.
 *
 * Task:    blocked -> ready -> running -> succeeded | failed
 *          running -> waiting (gate, sleep, event; lease released) -> ready
 *          running -> ready (retry with backoff, lease expired, released)
 *          any non-terminal -> cancelled; dependents of a failed task -> skipped
 * Run:     planning -> awaiting_approval -> running -> succeeded | failed | cancelled
 * Attempt: running -> succeeded | failed | crashed | released | suspended | cancelled
 */
export const TASK_STATES = Object.freeze([
  "blocked",
  "ready",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const);
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
]);

export const RUN_STATES = Object.freeze([
  "planning",
  "awaiting_approval",
  "running",
  "succeeded",
  "failed",
  "cancelled",
] as const);
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(["succeeded", "failed", "cancelled"]);

export const ATTEMPT_STATES = Object.freeze([
  "running",
  "succeeded",
  "failed",
  "crashed",
  "released",
  "suspended",
  "cancelled",
] as const);
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export const GATE_STATES = Object.freeze(["pending", "approved", "rejected", "expired"] as const);
export type GateState = (typeof GATE_STATES)[number];

/** Why a task ended in `failed`, when it was not simply its workflow's error. */
export const FAIL_REASONS = Object.freeze(["error", "non_retryable", "timeout", "recovery_limit", "exhausted"] as const);
export type FailReason = (typeof FAIL_REASONS)[number];
