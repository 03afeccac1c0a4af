/**
 * The step context: how a workflow talks to the journal.
 *
 * Each call gets a key (`name`, then `name#2`, `name#3` for repeats) and a
 * sequence number. If the journal already holds that key, the recorded result
 * is returned (or the recorded failure thrown) without running anything; if it
 * holds a different kind of step there, the task fails with NonDeterminismError.
 * Otherwise the step runs and its result is committed under the lease before
 * the workflow goes on, so a crash can only repeat the step that was running.
 */
import type { Clock } from "../core/clock.ts";
import { deepMessage, jsonShape, largeMessage, LIMITS, taskOutputLimits } from "../core/limits.ts";
import { GateRejectedError, NonDeterminismError, NonRetryableError, StepFailedError, StepOutputError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { StepRecord, StepWrite, Store, TaskError } from "../store/types.ts";
import type { AttemptAbort } from "./attemptAbort.ts";
import type { LogBuffer } from "./logBuffer.ts";
import type { ApprovalDecision, ApprovalOptions, EventWait, EventWaitOptions, RunView, StepOptions, TaskInfo, WorkflowCatalog, WorkflowContext } from "./workflow.ts";
import { contentHash } from "../core/hash.ts";

/** Thrown through the workflow when the task was suspended (sleep, gate): not a failure. */
export class Suspended extends Error {
  constructor(readonly reason: string) {
    super(`task suspended: ${reason}`);
  }
}

export interface StepContextOptions {
  store: Store;
  clock: Clock;
  task: TaskInfo;
  deps: Record<string, unknown>;
  workflows: WorkflowCatalog;
  feedback?: string[];
  journal: StepRecord[];
  /** The attempt's abort switch: ctx.signal is its signal. */
  abort: AttemptAbort;
  /** Where ctx.log goes; omitted: nowhere. */
  logs?: LogBuffer;
  /** Called before the task suspends (its lease ends with that write). */
  onSuspending?: () => void;
}

const OVER_LIMIT_FIX = "return less (large data belongs in a file; return its path), see README \"Limits\"";

/** The value as JSON gives it back (a round trip, except for a null, boolean or finite number), so first runs and replays return identical data. */
export function toJournalValue(value: unknown, label: string, key: string, maxBytes: number = LIMITS.stepOutputBytes): unknown {
  if (value === undefined) return null;
  // A null, boolean or finite number comes back from JSON as it went in (-0 as 0): no round trip.
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value === 0 ? 0 : value;
  // Checked before stringifying: a value nested thousands deep would overflow the stack in JSON.stringify.
  let shape: ReturnType<typeof jsonShape>;
  try {
    shape = jsonShape(value);
  } catch (error) {
    throw new StepOutputError(label, key, (error as Error).message); // a getter or a proxy that throws when read
  }
  if (shape === "deep") throw new StepOutputError(label, key, deepMessage(), OVER_LIMIT_FIX);
  let text: string | undefined;
  try {
    // Plain data needs no replacer to watch for what JSON cannot hold (2-3 times faster without).
    text = shape === "plain" ? JSON.stringify(value) : JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === "function" || typeof v === "symbol") throw new Error(`it contains a ${typeof v}`);
      if (typeof v === "bigint") throw new Error("it contains a BigInt");
      if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`it contains the number ${v}`);
      return v;
    });
  } catch (error) {
    throw new StepOutputError(label, key, (error as Error).message);
  }
  if (text === undefined) return null;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: a text that short needs no count.
  const bytes = text.length * 3 <= maxBytes ? text.length : Buffer.byteLength(text);
  if (bytes > maxBytes) throw new StepOutputError(label, key, largeMessage(bytes, maxBytes), OVER_LIMIT_FIX);
  return JSON.parse(text);
}

export function describeError(error: unknown): TaskError {
  const err = error as { message?: unknown; code?: unknown; name?: unknown };
  const out: TaskError = { message: typeof err?.message === "string" ? err.message : String(error) };
  // A replayed step failure keeps the code its first failure had.
  const code = error instanceof StepFailedError ? (error.recordedCode ?? error.code) : err?.code;
  if (typeof code === "string") out.code = code;
  if (typeof err?.name === "string" && err.name !== "Error") out.name = err.name;
  return out;
}

const NO_DEPS: Readonly<Record<string, unknown>> = Object.freeze({});
const NO_FEEDBACK: readonly string[] = Object.freeze([]);

function isEmpty(record: Record<string, unknown>): boolean {
  for (const _ in record) return false;
  return true;
}

export class StepContext implements WorkflowContext {
  readonly task: TaskInfo;
  readonly deps: Readonly<Record<string, unknown>>;
  readonly feedback: readonly string[];
  readonly workflows: WorkflowCatalog;
  readonly run: RunView;
  private readonly abort: AttemptAbort;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logs: LogBuffer | undefined;
  private readonly onSuspending: () => void;
  private readonly journal: Map<string, StepRecord>;
  private readonly occurrences = new Map<string, number>();
  private seq = 0;

  constructor(options: StepContextOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.task = options.task;
    // Most tasks have no dependencies or feedback: they share one frozen empty value.
    this.deps = isEmpty(options.deps) ? NO_DEPS : Object.freeze({ ...options.deps });
    this.feedback = options.feedback === undefined || options.feedback.length === 0 ? NO_FEEDBACK : Object.freeze([...options.feedback]);
    this.workflows = options.workflows;
    const { store, task } = options;
    this.run = { budget: () => store.runBudget(task.runId), modelUsage: () => store.runModelUsage(task.runId) };
    this.abort = options.abort;
    this.onSuspending = options.onSuspending ?? (() => {});
    this.logs = options.logs;
    this.journal = new Map(options.journal.map((step) => [step.key, step]));
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private get label(): string {
    return `${this.task.runId}/${this.task.key}`;
  }

  /** Once the attempt is aborted (lease lost, cancelled, timed out) nothing more is committed. */
  private throwIfAborted(): void {
    if (this.abort.aborted) throw this.abort.reason;
  }

  private nextKey(name: string): { key: string; seq: number } {
    const count = (this.occurrences.get(name) ?? 0) + 1;
    this.occurrences.set(name, count);
    return { key: count === 1 ? name : `${name}#${count}`, seq: ++this.seq };
  }

  private recorded(key: string, kind: string): StepRecord | undefined {
    const record = this.journal.get(key);
    if (record && record.kind !== kind) throw new NonDeterminismError(this.label, key, record.kind, kind);
    return record;
  }

  private async commit(step: StepWrite): Promise<void> {
    this.throwIfAborted();
    await this.store.recordStep(this.task.taskId, this.task.attemptId, step);
  }

  step<T>(name: string, fn: (signal: AbortSignal) => T | Promise<T>): Promise<T>;
  step<T, I>(name: string, input: I, fn: (input: I, signal: AbortSignal) => T | Promise<T>, options?: StepOptions<T>): Promise<T>;
  async step<T>(name: string, a: unknown, b?: unknown, options?: StepOptions<T>): Promise<T> {
    const hasInput = b !== undefined;
    const fn = (hasInput ? b : a) as (...args: unknown[]) => T | Promise<T>;
    if (typeof fn !== "function") throw new TypeError(`ctx.step("${name}", …) needs a function to run`);
    this.throwIfAborted();
    const { key, seq } = this.nextKey(name);
    const record = this.recorded(key, "step");
    if (record?.status === "completed") return record.output as T;
    if (record?.status === "failed") throw new StepFailedError(key, record.error?.message ?? "step failed", record.error?.code);

    const input = hasInput ? toJournalValue(a, this.label, key) : null;
    const startedAt = this.clock.now();
    let output: unknown;
    try {
      output = hasInput ? await fn(input, this.signal) : await fn(this.signal);
    } catch (error) {
      this.throwIfAborted(); // an interrupted step is not a fact: it runs again next attempt
      await this.commit({ key, seq, kind: "step", status: "failed", input, output: null, error: describeError(error), startedAt, endedAt: this.clock.now() });
      throw error;
    }
    const value = toJournalValue(output, this.label, key) as T;
    const usage = options?.usage?.(value) ?? null;
    await this.commit({ key, seq, kind: "step", status: "completed", input, output: value, error: null, startedAt, endedAt: this.clock.now(), usage });
    return value;
  }

  async sleep(name: string, durationMs: number): Promise<void> {
    this.throwIfAborted();
    const { key, seq } = this.nextKey(name);
    const record = this.recorded(key, "sleep");
    if (record?.status === "completed") return;
    const now = this.clock.now();
    const until = record ? (record.output as { until: number }).until : now + Math.max(0, durationMs);
    const step: StepWrite = { key, seq, kind: "sleep", status: "completed", input: { durationMs }, output: { until }, error: null, startedAt: record?.startedAt ?? now, endedAt: now };
    if (now >= until) {
      await this.commit(step);
      return;
    }
    this.throwIfAborted();
    this.onSuspending();
    await this.store.suspendTask(this.task.taskId, this.task.attemptId, {
      until,
      reason: `sleep "${key}"`,
      step: record ? undefined : { ...step, status: "waiting", endedAt: null },
    });
    throw new Suspended(`sleeping until ${new Date(until).toISOString()} (step "${key}")`);
  }

  async approval(name: string, options: ApprovalOptions): Promise<ApprovalDecision> {
    this.throwIfAborted();
    const { key, seq } = this.nextKey(name);
    const record = this.recorded(key, "approval");
    const settle = (decision: ApprovalDecision, gateId: string): ApprovalDecision => {
      if (!decision.approved && (options.onReject ?? "throw") === "throw") {
        throw new GateRejectedError(gateId, decision.by, decision.reason ?? "no reason given");
      }
      return decision;
    };
    if (record?.status === "completed") {
      const { gateId, decision } = record.output as { gateId: string; decision: ApprovalDecision };
      return settle(decision, gateId);
    }
    // A gate closed by a cancelled run decides nothing: the task, resumed, asks again at a new gate.
    const waitingGate = record?.status === "waiting" ? await this.store.getGate((record.output as { gateId: string }).gateId) : null;
    if (record?.status === "waiting" && waitingGate?.state !== "cancelled") {
      const gateId = (record.output as { gateId: string }).gateId;
      const gate = waitingGate!;
      if (gate.state === "expired") throw new NonRetryableError(`gate ${gateId} expired before anyone decided`, { code: "gate_timeout" });
      if (gate.state === "pending") {
        // Woken without a decision (cannot happen through decideGate): wait again, same gate.
        this.onSuspending();
        await this.store.suspendTask(this.task.taskId, this.task.attemptId, { reason: `approval "${key}"` });
        throw new Suspended(`waiting for gate ${gateId}`);
      }
      const decision: ApprovalDecision = { approved: gate.state === "approved", by: gate.decidedBy ?? "unknown", at: gate.decidedAt ?? this.clock.now() };
      if (gate.reason) decision.reason = gate.reason;
      if (gate.action) decision.action = gate.action;
      await this.commit({ ...record, status: "completed", output: { gateId, decision }, endedAt: this.clock.now() });
      return settle(decision, gateId);
    }
    const gateId = newId("g", this.clock.now());
    const evidence = options.evidence === undefined ? undefined : toJournalValue(options.evidence, this.label, key, taskOutputLimits(this.task.key).evidenceBytes);
    const subjectHash = contentHash(JSON.stringify({ question: options.question, evidence: evidence ?? null }));
    const now = this.clock.now();
    this.throwIfAborted();
    this.onSuspending();
    await this.store.suspendTask(this.task.taskId, this.task.attemptId, {
      reason: `approval "${key}"`,
      step: { key, seq, kind: "approval", status: "waiting", input: { question: options.question }, output: { gateId }, error: null, startedAt: now, endedAt: null },
      gate: {
        id: gateId,
        stepKey: key,
        question: options.question,
        evidence,
        subjectHash,
        askedBy: `${this.task.worker} (task ${this.label})`,
        timeoutAt: options.timeoutMs === undefined ? undefined : now + options.timeoutMs,
        onTimeout: options.onTimeout,
      },
    });
    throw new Suspended(`waiting for a person at gate ${gateId}`);
  }

  async waitForEvent(name: string, options: EventWaitOptions): Promise<EventWait> {
    this.throwIfAborted();
    const { key, seq } = this.nextKey(name);
    const record = this.recorded(key, "event");
    if (record?.status === "completed") return record.output as EventWait;
    const now = this.clock.now();
    const timeoutAt = record ? (record.output as { timeoutAt: number | null }).timeoutAt : options.timeoutMs === undefined ? null : now + options.timeoutMs;
    const step: StepWrite = record ?? { key, seq, kind: "event", status: "waiting", input: { event: options.event, timeoutMs: options.timeoutMs ?? null }, output: { timeoutAt }, error: null, startedAt: now, endedAt: null };
    // Stored facts decide who wins: the signal if it was emitted before the deadline, else the timeout.
    const signal = await this.store.getSignal(options.event);
    let result: EventWait | null = null;
    if (signal && (timeoutAt === null || signal.emittedAt < timeoutAt)) result = { received: true, data: signal.data, at: signal.emittedAt, by: signal.emittedBy };
    else if (timeoutAt !== null && now >= timeoutAt) result = { received: false, timedOut: true };
    if (result) {
      await this.commit({ ...step, status: "completed", output: result, endedAt: now });
      return result;
    }
    this.throwIfAborted();
    this.onSuspending();
    await this.store.suspendTask(this.task.taskId, this.task.attemptId, {
      until: timeoutAt ?? undefined,
      waitingFor: options.event,
      reason: `waiting for event "${options.event}"`,
      step: record ? undefined : step,
    });
    throw new Suspended(`waiting for event "${options.event}"`);
  }

  /** now, random, uuid: a value produced once and journaled. */
  private async journaledValue<T>(kind: string, produce: () => T): Promise<T> {
    this.throwIfAborted();
    const { key, seq } = this.nextKey(kind);
    const record = this.recorded(key, kind);
    if (record?.status === "completed") return record.output as T;
    const value = produce();
    const at = this.clock.now();
    await this.commit({ key, seq, kind, status: "completed", input: null, output: value, error: null, startedAt: at, endedAt: at });
    return value;
  }

  now(): Promise<number> {
    return this.journaledValue("now", () => this.clock.now());
  }

  random(): Promise<number> {
    return this.journaledValue("random", () => Math.random());
  }

  uuid(): Promise<string> {
    return this.journaledValue("uuid", () => crypto.randomUUID());
  }

  log(stream: "stdout" | "stderr" | "info", text: string): void {
    if (!this.abort.aborted) this.logs?.push(stream, text);
  }

  idempotencyKey(stepName: string): string {
    return `${this.task.runId}/${this.task.key}/${stepName}`;
  }
}
