/**
 * A workflow is the code that executes a task: a name, a zod schema for its
 * input, optional limits, and `run(ctx, input)`. `run` must be replayable:
 * everything it learns from the outside world goes through `ctx` (steps,
 * time, randomness), so a later attempt can skip what is already journaled.
 */
import type { z } from "zod";
import type { BackoffPolicy } from "../core/backoff.ts";
import type { RunBudget, ValidWorkplan } from "../core/workplan.ts";
import type { ModelUsage } from "../store/types.ts";

/** What a workflow may know of the others (the Architect plans with them). */
export interface WorkflowCatalog {
  names(): string[];
  get(name: string): Workflow<any, any> | undefined;
  /** Validates a workplan against the DAG rules and these workflows; throws PlanInvalidError. */
  checkPlan(plan: unknown, source?: string): ValidWorkplan;
  /** The workflows a plan's tasks may name. */
  plannable(): string[];
}

export interface WorkflowLimits {
  /** Lease length; heartbeats renew it about every third of it. Default 30 s. */
  leaseMs?: number;
  /** Default wall time per attempt, when the task does not set `timeout`. */
  timeoutMs?: number;
  /** Default extra attempts after a failure, when the task does not set `retries`. */
  retries?: number;
  backoff?: BackoffPolicy;
  /** At most this many tasks of this workflow run at once on one drone. */
  concurrency?: number;
}

export interface StepOptions<T> {
  /**
   * The model usage this step's output stands for (a model turn), recorded
   * with the step: the run's budget is the sum of these, whatever workflow spent them.
   */
  usage?: (output: T) => ModelUsage | null | undefined;
}

export interface ApprovalOptions {
  question: string;
  /** What is being approved: a plan, a diff, logs, a cost. Shown to the person and hashed. */
  evidence?: unknown;
  /** How long the gate may stay pending (ms). */
  timeoutMs?: number;
  /** After the timeout: fail the task (default) or escalate (mark the gate overdue). Never proceed. */
  onTimeout?: "fail" | "escalate";
  /** On rejection: throw GateRejectedError (default), or return the decision to the workflow. */
  onReject?: "throw" | "return";
}

export interface ApprovalDecision {
  approved: boolean;
  by: string;
  at: number;
  reason?: string;
  action?: "retry" | "fail";
}

export interface EventWaitOptions {
  /** The signal's name (what `farcaster emit NAME` or POST /v1/events/NAME records). */
  event: string;
  /** Give up after this long; then the result says timedOut. */
  timeoutMs?: number;
}

export type EventWait = { received: true; data: unknown; at: number; by: string } | { received: false; timedOut: true };

export interface RunView {
  budget(): Promise<RunBudget | null>;
  modelUsage(): Promise<{ turns: number; inputTokens: number; outputTokens: number }>;
}

export interface TaskInfo {
  runId: string;
  taskId: number;
  /** The workplan's task id. */
  key: string;
  attemptId: number;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  workflow: string;
  /** Drone id. */
  worker: string;
  /** The run's working directory (where the plan was submitted from). */
  cwd: string;
  title: string;
  description: string | null;
  /** What the task may write and run; enforced by the agent's tools. */
  scope: { writes: string[]; commands: string[] } | null;
}

export interface WorkflowContext {
  readonly task: TaskInfo;
  /** Outputs of the tasks this one depends on, by task id. */
  readonly deps: Readonly<Record<string, unknown>>;
  /** The workflows this drone knows. */
  readonly workflows: WorkflowCatalog;
  /** The run as a whole: its budget and the model usage its steps recorded so far (live, not journaled). */
  readonly run: RunView;
  /** Reasons people gave when they rejected this task's gates with "retry": act on them. */
  readonly feedback: readonly string[];
  /** Fires when the lease is lost, the task is cancelled or its timeout passes. */
  readonly signal: AbortSignal;
  /** Runs `fn` once per task; later attempts get the journaled result back. */
  step<T>(name: string, fn: (signal: AbortSignal) => T | Promise<T>): Promise<T>;
  step<T, I>(name: string, input: I, fn: (input: I, signal: AbortSignal) => T | Promise<T>, options?: StepOptions<T>): Promise<T>;
  /** A durable sleep: the task waits without a lease and is woken when the time has come. */
  sleep(name: string, durationMs: number): Promise<void>;
  /**
   * A human gate: the task waits (without a lease) until a person approves or
   * rejects; replays return the decision.
   */
  approval(name: string, options: ApprovalOptions): Promise<ApprovalDecision>;
  /**
   * Waits (without a lease) for a named, persisted signal. A signal emitted
   * before the wait began counts; a timeout and a late signal never both win.
   */
  waitForEvent(name: string, options: EventWaitOptions): Promise<EventWait>;
  /** Journaled clock, random number and UUID: replays see the same values. */
  now(): Promise<number>;
  random(): Promise<number>;
  uuid(): Promise<string>;
  /** Output for people watching (farcaster logs, the progress view); not journaled. */
  log(stream: "stdout" | "stderr" | "info", text: string): void;
  /** Stable across attempts: pass it to external systems to make side effects idempotent. */
  idempotencyKey(stepName: string): string;
}

export interface Workflow<Input = unknown, Output = unknown> {
  name: string;
  description?: string;
  input: z.ZodType<Input>;
  limits?: WorkflowLimits;
  /**
   * Whether a task with this input calls a language model (OPENAI_API_KEY…):
   * `farcaster doctor` reports such tasks where no model is configured.
   */
  usesModel?: boolean | ((input: Input) => boolean);
  run(ctx: WorkflowContext, input: Input): Promise<Output>;
}

/** Identity with types: `export default defineWorkflow({ name, input: z.object(...), run })`. */
export function defineWorkflow<Input, Output>(workflow: Workflow<Input, Output>): Workflow<Input, Output> {
  return workflow;
}

export const DEFAULT_LEASE_MS = 30_000;
