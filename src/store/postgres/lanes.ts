/**
 * Write lanes on PostgreSQL: several group writers (writer.ts), each with at
 * most one transaction in flight, and the routing that keeps an attempt in
 * the lane that claimed it.
 *
 * Why lanes: with one writer a drone and its server take turns: while a
 * batch is at the server the drone waits, and while the drone runs what the
 * batch started the server idles. Letting one writer keep two transactions
 * in flight does not help, because the tasks of one batch finish together
 * and so fill the next batch together (they move in lockstep). A lane binds
 * a cohort of tasks to its own queue: the claim of lane 1 opens attempts
 * whose steps and completions go through lane 1, whose next claim rides in
 * the batch of those completions, and so on, out of phase with lane 0.
 *
 * Order: an attempt's writes all go through one lane, so they keep their
 * order; writes of distinct attempts commute (rows locked in the database
 * order them as they would across processes). A heartbeat naming attempts
 * of several lanes is split, each part going through its attempts' lane, so
 * a renewal queued before a completion never commits after it. Writes of no
 * attempt (creating, cancelling, deciding) go through lane 0.
 */
import type { PgGroupWriter, Write } from "./writer.ts";

/** What a lane needs of its writer (tests give it their own). */
export type LaneWriter = Pick<PgGroupWriter, "write" | "drain" | "stats">;

export class WriteLanes {
  /** Attempts claimed in a lane other than 0, by attempt id (lane 0 is the default and is not recorded). */
  private readonly laneOf = new Map<number, number>();

  constructor(private readonly writers: readonly LaneWriter[]) {
    if (writers.length === 0) throw new RangeError("write lanes: at least one writer");
  }

  get count(): number {
    return this.writers.length;
  }

  /** A write of no attempt. */
  other<T>(write: Write<T>): Promise<T> {
    return this.writers[0]!.write(write);
  }

  /** A claim through `lane`: the attempts it opens write through it from then on (recorded before the caller sees them). */
  claim<T extends { attemptId: number }>(lane: number, write: Write<T[]>): Promise<T[]> {
    const writer = this.writers[lane];
    if (!writer) return Promise.reject(new RangeError(`a claim's lane must be a whole number from 0 to ${this.writers.length - 1} (got ${lane})`));
    if (lane === 0) return writer.write(write);
    return writer.write(write).then((claimed) => {
      for (const task of claimed) this.laneOf.set(task.attemptId, lane);
      return claimed;
    });
  }

  /** A write of one attempt, through its lane. */
  forAttempt<T>(attemptId: number, write: Write<T>): Promise<T> {
    return this.writers[this.laneOf.get(attemptId) ?? 0]!.write(write);
  }

  /**
   * The drone is done with the attempt: every write of it has settled (a
   * lost attempt may never write again, so its last write cannot say so).
   */
  forget(attemptId: number): void {
    this.laneOf.delete(attemptId);
  }

  /** Attempts with a lane of their own now (tests: nothing is kept for an attempt that ended). */
  get remembered(): number {
    return this.laneOf.size;
  }

  /**
   * Leases of several attempts: one write per lane they are in (`renewPart`
   * queues it through `send`); the lost attempt ids of all. A part that
   * fails fails the renewal (the lease keeper then counts every lease as
   * unrenewed), but only once every part has been answered.
   */
  async renew<L extends { attemptId: number }>(
    leases: readonly L[],
    renewPart: (part: readonly L[], send: (write: Write<number[]>) => Promise<number[]>) => Promise<number[]>,
  ): Promise<number[]> {
    const parts = new Map<number, L[]>();
    for (const lease of leases) {
      const lane = this.laneOf.get(lease.attemptId) ?? 0;
      const part = parts.get(lane);
      if (part) part.push(lease);
      else parts.set(lane, [lease]);
    }
    const answers = await Promise.allSettled([...parts].map(([lane, part]) => renewPart(part, (write) => this.writers[lane]!.write(write))));
    const failed = answers.find((answer) => answer.status === "rejected");
    if (failed) throw failed.reason;
    return answers.flatMap((answer) => (answer.status === "fulfilled" ? answer.value : []));
  }

  /** Resolves once everything queued in every lane so far is committed (or failed). */
  async drain(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.drain()));
  }

  /** Batches committed and the writes they held, lane by lane. */
  get perLane(): readonly Readonly<{ batches: number; writes: number; retries: number }>[] {
    return this.writers.map((writer) => ({ ...writer.stats }));
  }

  /** Batches committed and the writes they held, over all lanes. */
  get stats(): { batches: number; writes: number; retries: number } {
    return this.perLane.reduce((sum, lane) => ({ batches: sum.batches + lane.batches, writes: sum.writes + lane.writes, retries: sum.retries + lane.retries }), { batches: 0, writes: 0, retries: 0 });
  }
}
