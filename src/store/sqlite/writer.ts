/**
 * Group commit: every write of this process goes through one queue, and one
 * BEGIN IMMEDIATE … COMMIT per event-loop turn applies everything queued.
 *
 * A COMMIT costs tens of microseconds, a statement a few; a transaction per
 * operation made commits most of a task's cost and made more work in flight
 * slower. Here many drones' steps, completions, heartbeats and claims share
 * one commit, so more work in flight means bigger batches, not more commits.
 *
 * The promises keep their meaning: a caller learns of success only after the
 * COMMIT that holds its write (a `ctx.step` returns once its output is
 * durable), and of failure only for its own write. Each write runs inside a
 * SAVEPOINT: one that throws (LeaseLostError from its fence, a plan the
 * database refuses) is rolled back alone and rejects alone; the rest of the
 * batch commits. If the COMMIT itself fails, every write of the batch rejects.
 *
 * Order: writes apply in the order they were queued, so a task's own writes
 * keep their order; claims go last, so a claim sees what the batch's
 * completions made ready (a dependent is dispatched in the same transaction
 * that completed its dependency). Run counters (tasks open, failed) that hot
 * writes change are added up and written once per run at the end of the
 * batch, or before any other kind of write that might read them.
 */
import type { Database } from "bun:sqlite";
import type { Clock } from "../../core/clock.ts";
import type { Checkpointer } from "./checkpoints.ts";
import { applyRunDeltas, type RunDelta, type TxContext } from "./context.ts";
import { sql } from "./statements.ts";
import { acquireWriteLock } from "./writeLock.ts";

/**
 * How a write is scheduled inside a batch:
 *   hot    a task's own write (step, completion, failure, heartbeat, log); may defer run counters
 *   claim  leasing tasks: applied after every other write of the batch
 *   other  anything else (creating, cancelling, deciding…): sees every earlier write in full
 */
export type WriteKind = "hot" | "claim" | "other";

interface QueuedWrite {
  kind: WriteKind;
  fn: (ctx: TxContext) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Writes applied in one transaction at most; the rest wait for the next turn. */
export const MAX_BATCH = 2_048;

export interface WriterOptions {
  db: Database;
  clock: Clock;
  busyTimeoutMs: number;
  checkpointer: Checkpointer | null;
  /** After each COMMIT (wakes followers). */
  onCommit: () => void;
}

export class GroupWriter {
  private queue: QueuedWrite[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  private readonly savepoint: () => void;
  private readonly release: () => void;
  private readonly rollbackTo: () => void;
  private readonly begin: () => void;
  private readonly commit: () => void;
  private readonly rollback: () => void;
  private readonly totalChanges: () => number;
  /** Batches committed and writes they held (for tests and the bench). */
  readonly stats = { batches: 0, writes: 0 };

  constructor(private readonly options: WriterOptions) {
    const { db } = options;
    const statement = (text: string) => {
      const prepared = sql(db, text);
      return () => void prepared.run();
    };
    this.begin = statement("BEGIN IMMEDIATE");
    this.commit = statement("COMMIT");
    this.rollback = statement("ROLLBACK");
    this.savepoint = statement("SAVEPOINT w");
    this.release = statement("RELEASE w");
    this.rollbackTo = statement("ROLLBACK TO w");
    const total = sql<{ n: number }, []>(db, "SELECT total_changes() AS n");
    this.totalChanges = () => total.get()!.n;
  }

  write<T>(kind: WriteKind, fn: (ctx: TxContext) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind, fn, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // After this turn's microtasks: every write queued in this turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.run().finally(() => {
      this.flushing = null;
      if (this.queue.length > 0) this.schedule();
    });
    return this.flushing;
  }

  private async run(): Promise<void> {
    if (this.queue.length === 0) return;
    const paused = this.options.checkpointer?.paused();
    if (paused) await paused; // the checkpoint thread is restarting the WAL: a few ms
    try {
      await acquireWriteLock(this.begin, this.options.busyTimeoutMs);
    } catch (error) {
      for (const write of this.queue.splice(0, MAX_BATCH)) write.reject(error);
      return;
    }
    // Taken after the lock: writes queued while we waited for it join this batch.
    const batch = this.queue.splice(0, MAX_BATCH);
    const ctx: TxContext = { db: this.options.db, now: this.options.clock.now(), deltas: new Map() };
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const changesBefore = this.totalChanges();
    let changed = true;
    try {
      for (const phase of ["first", "claims"] as const) {
        batch.forEach((write, index) => {
          if ((write.kind === "claim") !== (phase === "claims")) return;
          if (write.kind !== "hot") applyRunDeltas(ctx); // it may read the runs' counters or states
          outcomes[index] = this.apply(write, ctx);
        });
      }
      applyRunDeltas(ctx);
      changed = this.totalChanges() !== changesBefore;
      this.commit();
    } catch (error) {
      // The COMMIT (or the deferred counters) failed: nothing of the batch is durable.
      if (this.options.db.inTransaction) this.rollback();
      for (const write of batch) write.reject(error);
      return;
    }
    this.stats.batches++;
    this.stats.writes += batch.length;
    this.options.checkpointer?.committed();
    // A batch that changed no row (claims that found nothing) is not a change: waking this
    // store's idle drones for it would have them claim again at once, and wake each other forever.
    if (changed) this.options.onCommit();
    batch.forEach((write, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
  }

  /** One write inside its savepoint; its run-counter changes join the batch's only if it succeeded. */
  private apply(write: QueuedWrite, batchCtx: TxContext): { ok: boolean; value: unknown } {
    const own: TxContext = { db: batchCtx.db, now: batchCtx.now, deltas: new Map() };
    this.savepoint();
    try {
      const value = write.fn(own);
      this.release();
      mergeDeltas(batchCtx.deltas!, own.deltas!);
      return { ok: true, value };
    } catch (error) {
      this.rollbackTo();
      this.release();
      return { ok: false, value: error };
    }
  }
}

function mergeDeltas(into: Map<string, RunDelta>, from: Map<string, RunDelta>): void {
  for (const [runId, delta] of from) {
    const existing = into.get(runId);
    if (!existing) into.set(runId, delta);
    else {
      existing.closed += delta.closed;
      existing.failed += delta.failed;
      existing.listeners.push(...delta.listeners);
    }
  }
}
