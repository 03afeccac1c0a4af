/**
 * Group commit on PostgreSQL: every write of this store goes through one
 * queue, and one transaction applies what was queued while the previous one
 * was out (at least the writes of one event-loop turn). Each caller's promise
 * settles after that COMMIT, and a write that fails fails only its caller.
 *
 * Inside the transaction the batch is applied in queue order, with one
 * refinement that makes it cheap: writes of distinct tasks commute, so the
 * writes between two "other" writes are cut into layers (a task's first
 * write in the first layer, its second in the next…), and the writes of one
 * layer that share a statement (steps, completions, output) are applied by
 * it, over arrays (unnest), whatever their number. Everything else runs
 * alone in a savepoint, so that one that throws (LeaseLostError from its
 * fence, a plan the database refuses) is rolled back alone. "Other" writes
 * (creating, cancelling, deciding…) see every earlier write in full; claims
 * go last, so a claim sees what the batch's completions made ready; run
 * counters are written once per run at the end, then the events (events.ts),
 * then one NOTIFY if tasks became ready.
 *
 * When things go wrong:
 * - a shared statement fails (a value the database refuses): the batch is
 *   rolled back and applied again with every write in its own savepoint;
 * - a deadlock or serialization failure: the batch is applied again;
 * - the connection breaks before COMMIT: nothing was written; the batch is
 *   applied again on another connection, a few times, then every write
 *   rejects with StoreUnreachableError;
 * - the connection breaks during COMMIT: the outcome is unknown. The writes
 *   that recognise their own effect (steps, completions, failures,
 *   suspensions, releases, heartbeats) are applied again in replay mode, so
 *   a completion that did commit succeeds instead of reporting a lost lease;
 *   the others reject with StoreUnreachableError saying the outcome is unknown;
 * - a batch that takes longer than the write deadline (a partition that
 *   drops packets instead of refusing them): the pool is replaced, which
 *   ends the transaction, and its writes reject.
 */
import type { SQL } from "bun";
import type { Clock } from "../../core/clock.ts";
import { StoreUnreachableError } from "../../core/errors.ts";
import { applyRunDeltas, childContext, mergeInto, newContext, type TxContext } from "./context.ts";
import { isConnectionError, sqlState } from "./database.ts";
import { insertEvents } from "./events.ts";
import { q } from "./sqlText.ts";

/**
 * How a write is scheduled inside a batch:
 *   hot    a task's own write (step, completion, failure, heartbeat, log)
 *   claim  leasing tasks: applied after every other write of the batch
 *   other  anything else (creating, cancelling, deciding…): sees every earlier write in full
 */
export type WriteKind = "hot" | "claim" | "other";

export type Outcome<T = unknown> = { ok: true; value: T } | { ok: false; error: unknown };

/** Writes that one statement can apply together; "single" sends one back to its own path (write.run). */
export interface WriteGroup<P, T> {
  readonly name: string;
  applyMany(ctx: TxContext, payloads: P[]): Promise<(Outcome<T> | { ok: "single" })[]>;
}

export interface Write<T = unknown> {
  kind: WriteKind;
  /** The tasks this write is for: writes of one task apply in order; writes of distinct tasks may share a statement. */
  tasks: readonly number[];
  /** The write on its own, in its savepoint. */
  run: (ctx: TxContext) => Promise<T>;
  /** Applied together with the writes of the same group in its layer. */
  group?: WriteGroup<unknown, T>;
  payload?: unknown;
  /** Recognises its own effect when applied again after a lost COMMIT. */
  idempotent: boolean;
}

interface Queued extends Write {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Writes applied in one transaction at most; the rest wait for the next. */
export const MAX_BATCH = 2_048;
/** Waits before applying a batch again after its connection broke. */
const RECONNECT_DELAYS_MS = [20, 200, 1_000];
const MAX_CONFLICT_RETRIES = 8;

export interface PgWriterOptions {
  pool: () => SQL;
  clock: Clock;
  /** Key of the lock that orders event ids (events.ts). */
  eventLockKey: number;
  /** The channel idle drones listen on. */
  channel: string;
  /** A batch that takes longer than this is abandoned (default 15 s). */
  deadlineMs: number;
  /** Replaces the pool (ends every connection): a hung batch cannot be cancelled otherwise. */
  resetPool: () => Promise<void>;
  describe: () => string;
  /** After each COMMIT (wakes this store's followers and idle drones). */
  onCommit: () => void;
}

class SharedStatementError extends Error {
  constructor(readonly group: string, cause: unknown) {
    super(`${group}: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

class DeadlineError extends Error {}

function isConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === "40001" || state === "40P01";
}

function brokenConnection(error: unknown): boolean {
  return isConnectionError(error) || isConnectionError((error as { cause?: unknown })?.cause);
}

export class PgGroupWriter {
  private queue: Queued[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  /** Batches committed and writes they held (for tests and the bench). */
  readonly stats = { batches: 0, writes: 0, retries: 0 };
  /** Whether the batch last applied changed anything (see emptyClaimsOnly). */
  private changedLast = true;

  constructor(private readonly options: PgWriterOptions) {}

  write<T>(write: Write<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The write object is made for this call by the store: it becomes the queue entry (no copy).
      const queued = write as Queued;
      queued.resolve = resolve as (value: unknown) => void;
      queued.reject = reject;
      this.queue.push(queued);
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
    this.flushing = this.run(this.queue.splice(0, MAX_BATCH)).finally(() => {
      this.flushing = null;
      if (this.queue.length > 0) this.schedule();
    });
    return this.flushing;
  }

  private async run(batch: Queued[]): Promise<void> {
    if (batch.length === 0) return;
    let safe = false;
    let replay = false;
    let reconnects = 0;
    let conflicts = 0;
    for (;;) {
      let committing = false;
      let outcomes: Outcome[];
      try {
        outcomes = await this.withDeadline(this.options.pool().begin(async (tx) => {
          const result = await this.apply(tx, batch, safe, replay);
          committing = true; // Bun sends COMMIT once this callback returns
          return result;
        }));
      } catch (error) {
        if (error instanceof DeadlineError) {
          await this.options.resetPool();
          const why = committing ? "its COMMIT did not come back, so it may or may not have been done" : "it was abandoned";
          return this.rejectAll(batch, this.unreachable(`a write took longer than ${this.options.deadlineMs} ms; ${why}`, error));
        }
        if (brokenConnection(error)) {
          this.stats.retries++;
          if (committing) {
            // The COMMIT was lost with its connection: apply again what recognises its own effect.
            const unknown = batch.filter((write) => !write.idempotent);
            batch = batch.filter((write) => write.idempotent);
            this.rejectAll(unknown, this.unreachable("the connection broke during COMMIT, so this write may or may not have been done", error));
            if (batch.length === 0) return;
            replay = true;
          }
          if (reconnects >= RECONNECT_DELAYS_MS.length) return this.rejectAll(batch, this.unreachable("the connection broke and retrying did not help", error));
          await Bun.sleep(RECONNECT_DELAYS_MS[reconnects++]!);
          continue;
        }
        if (isConflict(error) && conflicts < MAX_CONFLICT_RETRIES) {
          conflicts++;
          this.stats.retries++;
          continue;
        }
        if (error instanceof SharedStatementError && !safe) {
          safe = true; // each write alone, in its savepoint: only the one the database refuses fails
          this.stats.retries++;
          continue;
        }
        // The COMMIT itself failed (a deferred constraint), or something unexpected: nothing of the batch is durable.
        return this.rejectAll(batch, error);
      }
      this.stats.batches++;
      this.stats.writes += batch.length;
      // A batch of claims that found nothing, or failed, changed nothing: waking this store's
      // idle drones for it would have them claim again at once, and wake each other forever.
      if (this.changedLast) this.options.onCommit();
      batch.forEach((write, index) => {
        const outcome = outcomes[index]!;
        if (outcome.ok) write.resolve(outcome.value);
        else write.reject(outcome.error);
      });
      return;
    }
  }

  private rejectAll(batch: readonly Queued[], error: unknown): void {
    for (const write of batch) write.reject(error);
  }

  private unreachable(why: string, cause: unknown): StoreUnreachableError {
    return new StoreUnreachableError(`PostgreSQL at ${this.options.describe()}: ${why} (${(cause as Error)?.message ?? cause})`, { cause });
  }

  private withDeadline<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError("deadline")), this.options.deadlineMs);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
  }

  /** The whole batch in the transaction `tx`; returns each write's outcome (settled by the caller after COMMIT). */
  private async apply(tx: SQL, batch: readonly Queued[], safe: boolean, replay: boolean): Promise<Outcome[]> {
    const ctx = newContext(tx, this.options.clock.now(), replay);
    const outcomes: Outcome[] = new Array(batch.length);
    let layers: number[][] = [];
    let layerOf = new Map<number, number>();
    const flushLayers = async () => {
      for (const layer of layers) await this.applyLayer(ctx, batch, layer, outcomes, safe);
      layers = [];
      layerOf = new Map();
    };
    const claims: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const write = batch[i]!;
      if (write.kind === "claim") {
        claims.push(i);
      } else if (write.kind === "other" || write.tasks.length === 0) {
        await flushLayers();
        await applyRunDeltas(ctx); // it may read the runs' counters or states
        outcomes[i] = await this.single(ctx, write);
      } else {
        let layer = 0;
        for (const task of write.tasks) layer = Math.max(layer, (layerOf.get(task) ?? -1) + 1);
        for (const task of write.tasks) layerOf.set(task, layer);
        (layers[layer] ??= []).push(i);
      }
    }
    await flushLayers();
    // Claims go last, so they see what the batch made ready. A claim is its statement (and the upkeep's):
    // in a batch that fails, the batch is applied again with it in a savepoint (safe mode).
    for (const i of claims) outcomes[i] = safe ? await this.single(ctx, batch[i]!) : await this.direct(ctx, batch[i]!);
    this.changedLast = !emptyClaimsOnly(batch, outcomes, ctx);
    await this.finish(tx, ctx);
    return outcomes;
  }

  /**
   * The batch's tail, sent together: the run counters (locking the runs rows
   * first), the events under their lock, the NOTIFY. A run that ended adds
   * its event after the others, still under the lock.
   */
  private async finish(tx: SQL, ctx: TxContext): Promise<void> {
    const events = ctx.events.splice(0);
    const parts: Promise<unknown>[] = [applyRunDeltas(ctx)];
    if (events.length > 0) parts.push(insertEvents(tx, this.options.eventLockKey, events));
    if (ctx.ready) parts.push(q(tx, "SELECT pg_notify($1, '')", [this.options.channel]));
    await Promise.all(parts);
    if (ctx.events.length > 0) await insertEvents(tx, this.options.eventLockKey, ctx.events);
  }

  /** A write without a savepoint of its own: a failure fails the batch, which is then applied again in safe mode. */
  private async direct(ctx: TxContext, write: Write): Promise<Outcome> {
    try {
      return { ok: true, value: await write.run(ctx) };
    } catch (error) {
      if (brokenConnection(error) || isConflict(error)) throw error;
      throw new SharedStatementError("claiming tasks", error);
    }
  }

  /** One layer: writes of distinct tasks. Those of a group share its statement (unless `safe`), the rest run alone, in queue order. */
  private async applyLayer(ctx: TxContext, batch: readonly Queued[], layer: readonly number[], outcomes: Outcome[], safe: boolean): Promise<void> {
    const groups = new Map<WriteGroup<unknown, unknown>, number[]>();
    const units: (number | WriteGroup<unknown, unknown>)[] = [];
    for (const i of layer) {
      const group = safe ? undefined : batch[i]!.group;
      if (!group) units.push(i);
      else if (groups.has(group)) groups.get(group)!.push(i);
      else {
        groups.set(group, [i]);
        units.push(group);
      }
    }
    // The shared statements of the layer are sent together (distinct tasks: their order does not matter),
    // then the writes that need a savepoint, one after the other (a savepoint holds whatever runs beside it).
    const shared = [...groups].map(async ([group, members]) => {
      try {
        return { members, results: await group.applyMany(ctx, members.map((i) => batch[i]!.payload)) };
      } catch (error) {
        if (brokenConnection(error) || isConflict(error)) throw error;
        throw new SharedStatementError(group.name, error);
      }
    });
    const alone: number[] = units.filter((unit): unit is number => typeof unit === "number");
    for (const { members, results } of await Promise.all(shared)) {
      members.forEach((i, k) => {
        const result = results[k]!;
        if (result.ok === "single") alone.push(i);
        else outcomes[i] = result;
      });
    }
    for (const i of alone) outcomes[i] = await this.single(ctx, batch[i]!);
  }

  /** One write in its own savepoint: its events and counters join the batch only if it succeeds. */
  private async single(ctx: TxContext, write: Write): Promise<Outcome> {
    let child: TxContext | null = null;
    try {
      const value = await (ctx.sql as SQL & { savepoint: <T>(fn: (sp: SQL) => Promise<T>) => Promise<T> }).savepoint(async (sp) => {
        child = childContext(ctx, sp);
        return write.run(child);
      });
      mergeInto(ctx, child!);
      return { ok: true, value };
    } catch (error) {
      if (brokenConnection(error) || isConflict(error)) throw error; // the transaction is gone or must start over
      return { ok: false, error };
    }
  }
}

/** Only claims, each of which claimed nothing or failed, and no event or newly ready task (an upkeep that did nothing). */
function emptyClaimsOnly(batch: readonly Queued[], outcomes: readonly Outcome[], ctx: TxContext): boolean {
  if (ctx.events.length > 0 || ctx.ready) return false;
  return batch.every((write, i) => {
    const outcome = outcomes[i];
    if (write.kind !== "claim" || outcome === undefined) return false;
    // A claim that failed was rolled back to its savepoint: it changed nothing either.
    return !outcome.ok || (Array.isArray(outcome.value) && outcome.value.length === 0);
  });
}
