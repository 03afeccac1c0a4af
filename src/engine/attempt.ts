/**
 * Running one claimed task to an outcome: load its journal (the claim
 * brought its dependencies' outputs), run the workflow under the drone's
 * heartbeat, a timeout and its abort switch, then commit the outcome through
 * the fenced store calls.
 *
 *   returned          -> completeTask
 *   Suspended         -> nothing (already suspended in the store)
 *   lease lost        -> nothing: another drone may hold the task now
 *   store unreachable -> nothing: the completion may or may not be recorded; the lease decides
 *   shutdown          -> releaseTask, so another drone can take it at once
 *   timeout           -> failTask (retried if attempts are left; else reason "timeout")
 *   NonRetryable, non-determinism, bad output -> failTask without retry
 *   any other error   -> failTask with the workflow's backoff
 */
import type { Clock } from "../core/clock.ts";
import { taskOutputLimits } from "../core/limits.ts";
import { setLongTimeout } from "../core/timers.ts";
import { FarcasterError, LeaseLostError, NonDeterminismError, NonRetryableError, StepOutputError, StoreUnreachableError, TaskTimeoutError } from "../core/errors.ts";
import type { ClaimedTask, Store } from "../store/types.ts";
import type { AttemptAbort } from "./attemptAbort.ts";
import { LeaseKeeper } from "./leaseKeeper.ts";
import { LogBuffer } from "./logBuffer.ts";
import { describeError, StepContext, Suspended, toJournalValue } from "./stepContext.ts";
import { DEFAULT_LEASE_MS, type Workflow, type WorkflowCatalog } from "./workflow.ts";

export type AttemptOutcome = "succeeded" | "retrying" | "failed" | "suspended" | "lost" | "released";

export interface AttemptResult {
  outcome: AttemptOutcome;
  /** Dependents made ready by a success: the drone claims again at once. */
  unblocked: number;
  error?: string;
}

/** Why an attempt was aborted from outside the workflow. */
export class ShutdownAbort extends FarcasterError {
  constructor() {
    super("shutdown", "the drone is shutting down; the task was released for another drone");
  }
}

export interface AttemptOptions {
  store: Store;
  clock: Clock;
  worker: string;
  claimed: ClaimedTask;
  workflow: Workflow<any, any>;
  workflows: WorkflowCatalog;
  /** The lease the claim was made with. */
  claimLeaseMs: number;
  /** The operator's lease (worker --lease): wins over the workflow's own. */
  forceLeaseMs?: number;
  /** Lets the drone abort the attempt (shutdown); the heartbeat and the timeout pull it too. */
  abort: AttemptAbort;
  /** The drone's heartbeat; omitted: one of the attempt's own. */
  leases?: LeaseKeeper;
  /**
   * Called once, just before the attempt's last write (completion, failure,
   * release) is queued: the drone may claim for the slot now, so the claim
   * joins the same transaction as that write.
   */
  onSettling?: () => void;
}

export async function runAttempt(options: AttemptOptions): Promise<AttemptResult> {
  const { store, clock, claimed, workflow, abort } = options;
  const { taskId, attemptId } = claimed;
  const label = `${claimed.runId}/${claimed.key}`;
  const leaseMs = options.forceLeaseMs ?? workflow.limits?.leaseMs ?? options.claimLeaseMs ?? DEFAULT_LEASE_MS;
  const keeper = options.leases ?? new LeaseKeeper({ store, clock, worker: options.worker });
  const releaseLease = keeper.hold({ taskId, attemptId, leaseMs }, (error) => abort.abort(error), leaseMs !== options.claimLeaseMs);
  let settled = false;
  /** The workflow is done: stop renewing (the last write ends the lease) and let the drone claim for the slot. */
  const settling = () => {
    if (settled) return;
    settled = true;
    releaseLease();
    options.onSettling?.();
  };
  const logs = new LogBuffer(store, taskId, attemptId, () => clock.now());
  const timeoutMs = claimed.timeoutMs ?? workflow.limits?.timeoutMs;
  const cancelTimeout = timeoutMs ? setLongTimeout(() => abort.abort(new TaskTimeoutError(label, timeoutMs)), timeoutMs) : undefined;

  try {
    let output: unknown;
    try {
      // A first attempt has nothing journaled yet: skip the read.
      const journal = claimed.attempt === 1 ? [] : await store.listSteps(taskId);
      const deps = claimed.deps;
      const parsed = workflow.input.safeParse(claimed.input);
      if (!parsed.success) throw new NonRetryableError(`task ${label}: input does not match workflow ${workflow.name}: ${parsed.error.message}`);
      const ctx = new StepContext({
        store, clock, deps, journal, abort,
        onSuspending: settling,
        feedback: claimed.feedback.map((f) => f.reason),
        workflows: options.workflows,
        logs,
        task: { runId: claimed.runId, taskId, key: claimed.key, attemptId, attempt: claimed.attempt, maxAttempts: claimed.maxAttempts, workflow: workflow.name, worker: options.worker, cwd: claimed.cwd ?? process.cwd(),
          title: claimed.title, description: claimed.description, scope: claimed.scope ?? null },
      });
      // A workflow that ignores its signal must not hold the attempt hostage.
      output = await Promise.race([workflow.run(ctx, parsed.data), abort.rejection()]);
      output = toJournalValue(output, label, "(task output)", taskOutputLimits(claimed.key).outputBytes);
      await logs.flush(); // output lands before the completion that ends the lease
    } catch (error) {
      await logs.flush();
      return await settleFailure(options, error, label, settling);
    }
    try {
      settling();
      const { unblocked } = await store.completeTask(taskId, attemptId, output);
      return { outcome: "succeeded", unblocked };
    } catch (error) {
      if (error instanceof LeaseLostError) return { outcome: "lost", unblocked: 0, error: error.message };
      // The database could not be reached, and the completion may or may not have been recorded: leave the
      // task to its lease (its journal is intact; whoever takes it next replays it), never fail it for that.
      if (error instanceof StoreUnreachableError) return { outcome: "lost", unblocked: 0, error: error.message };
      // The store refused the output (a planning task's invalid plan): fail rather than leave the task leased.
      return await settleFailure(options, new NonRetryableError((error as Error).message, { cause: error }), label, settling);
    }
  } finally {
    settling();
    cancelTimeout?.();
  }
}

async function settleFailure(options: AttemptOptions, error: unknown, label: string, settling: () => void): Promise<AttemptResult> {
  const { store, claimed, workflow } = options;
  const { taskId, attemptId } = claimed;
  if (error instanceof Suspended) return { outcome: "suspended", unblocked: 0 };
  if (error instanceof LeaseLostError) return { outcome: "lost", unblocked: 0, error: error.message };
  settling();
  try {
    if (error instanceof ShutdownAbort) {
      await store.releaseTask(taskId, attemptId);
      return { outcome: "released", unblocked: 0 };
    }
    const final = error instanceof NonRetryableError || error instanceof NonDeterminismError || error instanceof StepOutputError;
    const result = await store.failTask(taskId, attemptId, describeError(error), {
      retryable: !final,
      reason: error instanceof TaskTimeoutError ? "timeout" : error instanceof NonRetryableError ? error.reason : undefined,
      backoff: workflow.limits?.backoff,
    });
    return { outcome: result.state === "ready" ? "retrying" : "failed", unblocked: 0, error: describeError(error).message };
  } catch (commitError) {
    if (commitError instanceof LeaseLostError) return { outcome: "lost", unblocked: 0, error: commitError.message };
    throw new Error(`task ${label}: could not record its failure (${(commitError as Error).message})`, { cause: error });
  }
}
