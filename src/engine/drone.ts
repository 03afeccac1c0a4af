/**
 * A drone: claims up to `concurrency` tasks, runs them at once, and claims
 * again as a slot frees up: when a task's last write is queued, the claim
 * for its slot is queued with it, so the store's group commit completes the
 * task and dispatches the next one (a dependent it just made ready, say) in
 * one transaction. One heartbeat renews every lease it holds.
 *
 * With nothing to claim it asks the store when there next will be (a lease
 * expiring, a backoff or sleep ending) and sleeps until then, or until the
 * database changes, or `maxIdleMs` at the most. `stop()` stops claiming, lets
 * running tasks finish for a grace period, then releases the rest so other
 * drones can take them at once.
 */
import { hostname } from "node:os";
import { systemClock, type Clock, type Ticker } from "../core/clock.ts";
import { setLongTimeout } from "../core/timers.ts";
import type { ClaimedTask, ClaimGroup, Store } from "../store/types.ts";
import { runAttempt, ShutdownAbort, type AttemptResult } from "./attempt.ts";
import { AttemptAbort } from "./attemptAbort.ts";
import { LeaseKeeper } from "./leaseKeeper.ts";
import type { WorkflowRegistry } from "./registry.ts";
import { DEFAULT_LEASE_MS } from "./workflow.ts";

export type DroneEvent =
  | { type: "claimed"; task: ClaimedTask }
  | { type: "finished"; task: ClaimedTask; result: AttemptResult; ms: number }
  | { type: "error"; message: string };

/** Slots of a drone by default: enough work in flight for the store to batch; costly workflows bring their own limits. */
export const DEFAULT_CONCURRENCY = 128;

export interface DroneOptions {
  store: Store;
  registry: WorkflowRegistry;
  id?: string;
  concurrency?: number;
  /** Lease taken at claim; a workflow's own `limits.leaseMs` replaces it at once, unless `forceLease`. */
  leaseMs?: number;
  /** The operator chose the lease (worker --lease): it applies to every workflow. */
  forceLease?: boolean;
  clock?: Clock;
  /** Fires the heartbeat (tests drive it by hand). */
  ticker?: Ticker;
  /** The longest an idle drone sleeps before it looks again, however quiet the database. */
  maxIdleMs?: number;
  /** Only claim tasks of this run (the main job's own drones). */
  runId?: string;
  onEvent?: (event: DroneEvent) => void;
}

interface Running {
  task: ClaimedTask;
  abort: AttemptAbort;
  done: Promise<void>;
  /** Its last write is queued: the slot counts as free. */
  settling: boolean;
}

export function defaultDroneId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 6)}`;
}

export class Drone {
  readonly id: string;
  private readonly store: Store;
  private readonly registry: WorkflowRegistry;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly forceLease: boolean;
  private readonly clock: Clock;
  private readonly maxIdleMs: number;
  private readonly onEvent: (event: DroneEvent) => void;
  private readonly runId: string | undefined;
  private readonly leases: LeaseKeeper;
  private readonly running = new Map<number, Running>();
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  private loop: Promise<void> | null = null;
  private readonly idleAbort = new AbortController();

  constructor(options: DroneOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.id = options.id ?? defaultDroneId();
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.forceLease = options.forceLease ?? false;
    this.clock = options.clock ?? systemClock;
    this.maxIdleMs = options.maxIdleMs ?? 1_000;
    this.onEvent = options.onEvent ?? (() => {});
    this.runId = options.runId;
    this.leases = new LeaseKeeper({ store: this.store, clock: this.clock, worker: this.id, ticker: options.ticker });
  }

  get active(): number {
    return this.running.size;
  }

  start(): this {
    this.loop ??= this.claimLoop();
    return this;
  }

  /** Stops claiming; waits up to `graceMs` for running tasks, then releases their leases. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.wake();
    this.idleAbort.abort();
    await this.loop;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let cancelGrace = () => {};
    await Promise.race([all(), new Promise<void>((resolve) => (cancelGrace = setLongTimeout(resolve, graceMs)))]);
    cancelGrace();
    for (const running of this.running.values()) running.abort.abort(new ShutdownAbort());
    await all();
    this.leases.stop();
  }

  private wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /** Sleeps `ms` at most; a local wake (a slot freed) or a change in the database ends it early. */
  private idle(ms: number, since: number): Promise<void> {
    if (this.pendingWake || ms <= 0) return Promise.resolve();
    const changed = new AbortController();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        changed.abort();
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
      void this.store.waitForChange({ since, signal: AbortSignal.any([changed.signal, this.idleAbort.signal]), maxWaitMs: ms }).then(done, done);
    });
  }

  private free(): number {
    let busy = 0;
    for (const running of this.running.values()) if (!running.settling) busy++;
    return this.concurrency - busy;
  }

  /**
   * What to claim now, as (workflows, how many) groups: all workflows without
   * a concurrency limit together, and each limited one up to its headroom.
   * (Priority holds within a group; across groups the unlimited go first.)
   */
  private claimGroups(free: number): ClaimGroup[] {
    const unlimited: string[] = [];
    const groups: ClaimGroup[] = [];
    for (const name of this.registry.names()) {
      const limit = this.registry.get(name)?.limits?.concurrency;
      if (!limit) {
        unlimited.push(name);
        continue;
      }
      let active = 0;
      for (const running of this.running.values()) if (running.task.workflow === name && !running.settling) active++;
      if (active < limit) groups.push({ workflows: [name], limit: Math.min(free, limit - active) });
    }
    if (unlimited.length > 0) groups.unshift({ workflows: unlimited, limit: free });
    return groups;
  }

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      this.pendingWake = false;
      const free = this.free();
      let claimed: ClaimedTask[] = [];
      const groups = free > 0 ? this.claimGroups(free) : [];
      if (groups.length > 0) {
        try {
          claimed = await this.store.claimTasks(this.id, free, this.leaseMs, { groups, runId: this.runId });
          for (const task of claimed) this.launch(task);
        } catch (error) {
          this.onEvent({ type: "error", message: `claim failed: ${(error as Error).message}` });
        }
      }
      if (this.stopping) break;
      if (claimed.length > 0 && claimed.length === free) continue; // there may be more
      if (this.pendingWake) continue; // a slot freed while the claim was out
      const since = this.store.changeToken(); // a change after this (another process's enqueue) ends the sleep
      await this.idle(await this.idleFor(groups), since);
    }
  }

  /** How long to sleep: until the store says a claim could find something, at most maxIdleMs. */
  private async idleFor(groups: ClaimGroup[]): Promise<number> {
    if (groups.length === 0) return this.maxIdleMs; // every slot busy: a finishing task wakes the loop
    try {
      const due = await this.store.nextDueAt({ groups, runId: this.runId });
      return due === null ? this.maxIdleMs : Math.min(this.maxIdleMs, due - this.clock.now());
    } catch {
      return this.maxIdleMs;
    }
  }

  private launch(task: ClaimedTask): void {
    const workflow = this.registry.get(task.workflow)!;
    const abort = new AttemptAbort();
    const started = performance.now();
    this.onEvent({ type: "claimed", task });
    const entry: Running = { task, abort, done: Promise.resolve(), settling: false };
    entry.done = runAttempt({
      store: this.store, clock: this.clock, worker: this.id, claimed: task, workflow, workflows: this.registry,
      claimLeaseMs: this.leaseMs, forceLeaseMs: this.forceLease ? this.leaseMs : undefined, abort,
      leases: this.leases,
      onSettling: () => {
        entry.settling = true;
        this.wake(); // claim for this slot now: the claim joins the batch of the task's last write
      },
    })
      .catch((error): AttemptResult => {
        this.onEvent({ type: "error", message: (error as Error).message });
        return { outcome: "lost", unblocked: 0, error: (error as Error).message };
      })
      .then((result) => {
        this.running.delete(task.attemptId);
        this.onEvent({ type: "finished", task, result, ms: performance.now() - started });
        this.wake();
      });
    this.running.set(task.attemptId, entry);
  }
}
