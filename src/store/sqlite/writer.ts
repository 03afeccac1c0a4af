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
 * durable), and of failure only for its own write. A batch is first applied
 * without savepoints; if a write throws (LeaseLostError from its fence, a
 * plan the database refuses), the transaction is rolled back and the batch
 * applied again with each write in its own SAVEPOINT, so the one that throws
 * is rolled back alone and rejects alone, and the rest commits. (Writes are
 * functions of the database and the batch's clock: applying one twice is
 * safe.) If the COMMIT itself fails, every write of the batch rejects.
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

/**
 * Writes of one kind that can be applied many at once (sets.ts): `apply`
 * takes the payloads of distinct tasks and returns their values in order,
 * or throws when any of them needs the write-by-write path.
 */
export interface SetGroup<P = unknown, R = unknown> {
  name: string;
  apply: (ctx: TxContext, payloads: P[]) => R[];
}

/** A write's place in a set: its group, its task (a task's writes never share a set), its payload. */
export interface SetMember {
  // The payload is the group's own type; the writer only hands it back to the group.
  group: SetGroup<never, unknown>;
  task: number;
  payload: unknown;
}

interface QueuedWrite {
  kind: WriteKind;
  fn: (ctx: TxContext) => unknown;
  set?: SetMember;
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
  readonly stats = { batches: 0, writes: 0, safeRetries: 0 };

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

  write<T>(kind: WriteKind, fn: (ctx: TxContext) => T, set?: SetMember): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind, fn, set, resolve: resolve as (value: unknown) => void, reject });
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
    let applied: Applied;
    try {
      applied = this.applyBatch(batch, "fast");
      if (!applied.outcomes.every((outcome) => outcome.ok)) {
        // A write threw: apply the batch again from the start, each write in its savepoint, so only it fails.
        this.rollback();
        this.stats.safeRetries++;
        await acquireWriteLock(this.begin, this.options.busyTimeoutMs);
        applied = this.applyBatch(batch, "safe");
      }
      this.commit();
    } catch (error) {
      // The lock, the COMMIT or the deferred counters failed: nothing of the batch is durable.
      if (this.options.db.inTransaction) this.rollback();
      for (const write of batch) write.reject(error);
      return;
    }
    this.stats.batches++;
    this.stats.writes += batch.length;
    this.options.checkpointer?.committed();
    // A batch that changed no row (claims that found nothing) is not a change: waking this
    // store's idle drones for it would have them claim again at once, and wake each other forever.
    if (applied.changed) this.options.onCommit();
    batch.forEach((write, index) => {
      const outcome = applied.outcomes[index]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
  }

  /**
   * Every write of the batch, claims last, inside the open transaction.
   * fast: no savepoints (two statements fewer per write); the first write
   * that throws stops the batch, which the caller rolls back and applies
   * again in safe mode. safe: each write in its savepoint, so one that
   * throws is rolled back alone and only it fails.
   */
  private applyBatch(batch: readonly QueuedWrite[], mode: "fast" | "safe"): Applied {
    const ctx: TxContext = { db: this.options.db, now: this.options.clock.now(), deltas: new Map() };
    const outcomes: Outcome[] = [];
    const changesBefore = this.totalChanges();
    const sets = new PendingSets(outcomes);
    for (const phase of ["first", "claims"] as const) {
      for (let index = 0; index < batch.length; index++) {
        const write = batch[index]!;
        if ((write.kind === "claim") !== (phase === "claims")) continue;
        if (mode === "fast" && write.set) {
          // Joins the set of its kind; a second write of the same task first applies what is pending.
          if (sets.holds(write.set.task) && !sets.flush(ctx)) return { outcomes, changed: true };
          sets.add(index, write.set);
          continue;
        }
        if (mode === "fast" && !sets.flush(ctx)) return { outcomes, changed: true };
        if (write.kind !== "hot") applyRunDeltas(ctx); // it may read the runs' counters or states
        const outcome = mode === "fast" ? this.applyDirect(write, ctx) : this.applyInSavepoint(write, ctx);
        outcomes[index] = outcome;
        if (!outcome.ok && mode === "fast") return { outcomes, changed: true };
      }
      if (mode === "fast" && !sets.flush(ctx)) return { outcomes, changed: true };
    }
    applyRunDeltas(ctx);
    return { outcomes, changed: this.totalChanges() !== changesBefore };
  }

  private applyDirect(write: QueuedWrite, ctx: TxContext): Outcome {
    try {
      return { ok: true, value: write.fn(ctx) };
    } catch (error) {
      return { ok: false, value: error };
    }
  }

  /** One write inside its savepoint; its run-counter changes join the batch's only if it succeeded. */
  private applyInSavepoint(write: QueuedWrite, batchCtx: TxContext): Outcome {
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

type Outcome = { ok: boolean; value: unknown };

/** The sets a fast batch has gathered and not yet applied, in the order their groups first appeared. */
class PendingSets {
  private readonly groups = new Map<SetGroup<never, unknown>, { indices: number[]; payloads: unknown[] }>();
  private readonly tasks = new Set<number>();

  constructor(private readonly outcomes: Outcome[]) {}

  holds(task: number): boolean {
    return this.tasks.has(task);
  }

  add(index: number, member: SetMember): void {
    let pending = this.groups.get(member.group);
    if (!pending) this.groups.set(member.group, (pending = { indices: [], payloads: [] }));
    pending.indices.push(index);
    pending.payloads.push(member.payload);
    this.tasks.add(member.task);
  }

  /** Applies every pending set; false (with the failure as the first one's outcome) when one needs the one-by-one path. */
  flush(ctx: TxContext): boolean {
    if (this.tasks.size === 0) return true;
    const groups = [...this.groups];
    this.groups.clear();
    this.tasks.clear();
    for (const [group, { indices, payloads }] of groups) {
      try {
        const values = group.apply(ctx, payloads as never[]);
        indices.forEach((index, i) => (this.outcomes[index] = { ok: true, value: values[i] }));
      } catch (error) {
        this.outcomes[indices[0]!] = { ok: false, value: error };
        return false;
      }
    }
    return true;
  }
}

interface Applied {
  outcomes: Outcome[];
  /** Whether any row changed (total_changes moved). */
  changed: boolean;
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
