/**
 * A drone: claims up to `concurrency` tasks, runs them at once, and claims
 * again as a slot frees up: when a task's last write is queued, the claim
 * for its slot is queued with it, so the store's group commit completes the
 * task and dispatches the next one (a dependent it just made ready, say) in
 * one transaction. One heartbeat renews every lease it holds.
 *
 * A store with several write lanes (Store.lanes: PostgreSQL) gets one claim
 * loop per lane, each with its share of the slots: a lane's tasks write
 * through it, so the lanes' transactions overlap instead of taking turns.
 * Per-workflow limits count the tasks of every lane. Drones that share the
 * database share its lanes: laneShare.ts says how many of its lanes a drone
 * claims in, and with how many slots each.
 *
 * With nothing to claim it asks the store when there next will be (a lease
 * expiring, a backoff or sleep ending) and sleeps until then, or until the
 * database changes, or `maxIdleMs` at the most. After a claim that failed it
 * waits without watching the database (claimBackoffMs: 50 ms, doubling up to
 * `maxIdleMs`). `stop()` stops claiming, lets
 * running tasks finish for a grace period, then releases the rest so other
 * drones can take them at once.
 */
import { hostname } from "node:os";
import { realTicker, systemClock, type Clock, type Ticker } from "../core/clock.ts";
import { setLongTimeout } from "../core/timers.ts";
import type { ClaimedTask, ClaimGroup, Store } from "../store/types.ts";
import { runAttempt, ShutdownAbort, type AttemptResult } from "./attempt.ts";
import { AttemptAbort } from "./attemptAbort.ts";
import { LaneShare } from "./laneShare.ts";
import { LeaseKeeper } from "./leaseKeeper.ts";
import type { WorkflowRegistry } from "./registry.ts";
import { DEFAULT_LEASE_MS } from "./workflow.ts";

export type DroneEvent =
  | { type: "claimed"; task: ClaimedTask; lane: number }
  | { type: "finished"; task: ClaimedTask; result: AttemptResult; ms: number }
  | { type: "error"; message: string };

/**
 * The fewest slots a lane gets when the caller chose the concurrency: a lane's
 * batches hold its own tasks only, and smaller ones cost more than the overlap
 * gains (bench/README.md, "Write lanes"). Costly workflows bring their own limits.
 */
const MIN_LANE_SLOTS = 128;

/** The first wait after a failed claim; it doubles with each failure in a row, up to the drone's maxIdleMs. */
const CLAIM_BACKOFF_MS = 50;

/** How long a lane waits after `failures` failed claims in a row: a store that fails (unreachable, its schema gone) is not asked again at once. */
export function claimBackoffMs(failures: number, maxIdleMs: number): number {
  return Math.min(maxIdleMs, CLAIM_BACKOFF_MS * 2 ** Math.min(failures - 1, 20));
}

export interface DroneOptions {
  store: Store;
  registry: WorkflowRegistry;
  id?: string;
  /** Tasks run at once, over the lanes open (default: the store's laneSlots per lane it has). */
  concurrency?: number;
  /** Claim loops (at most the store's lanes; default: as many as the slots fill, MIN_LANE_SLOTS each). */
  lanes?: number;
  /** Lease taken at claim; a workflow's own `limits.leaseMs` replaces it at once, unless `forceLease`. */
  leaseMs?: number;
  /** The operator chose the lease (worker --lease): it applies to every workflow. */
  forceLease?: boolean;
  clock?: Clock;
  /** Fires the heartbeat and the census (tests drive it by hand). */
  ticker?: Ticker;
  /** The longest an idle drone sleeps before it looks again, however quiet the database; also the longest wait after failed claims. */
  maxIdleMs?: number;
  /** Only claim tasks of this run (the main job's own drones). */
  runId?: string;
  onEvent?: (event: DroneEvent) => void;
}

/** One claim loop, with its own slots and the store's write lane of the same index. */
interface Lane {
  index: number;
  wakeUp: (() => void) | null;
  pendingWake: boolean;
  /** Waiting for a slot with room of its own, held by the drone's bound: any lane's task settling frees it. */
  waitsForAnySlot: boolean;
  /** Claims in a row that failed (see claimBackoffMs). */
  failedClaims: number;
}

interface Running {
  task: ClaimedTask;
  lane: Lane;
  abort: AttemptAbort;
  done: Promise<void>;
  /** Its last write is queued: the slot counts as free (in its own lane: see claimGroups). */
  settling: boolean;
}

export function defaultDroneId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 6)}`;
}

export class Drone {
  readonly id: string;
  private readonly store: Store;
  private readonly registry: WorkflowRegistry;
  readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly forceLease: boolean;
  private readonly clock: Clock;
  private readonly maxIdleMs: number;
  private readonly onEvent: (event: DroneEvent) => void;
  private readonly runId: string | undefined;
  private readonly leases: LeaseKeeper;
  private readonly ticker: Ticker;
  private readonly running = new Map<number, Running>();
  private readonly lanes: Lane[];
  /** Slots of limited workflows asked for by claims in flight (another lane's claim counts them). */
  private readonly claiming = new Map<string, number>();
  /** Which lanes claim now, with how many slots each. */
  private readonly share: LaneShare;
  private stopping = false;
  private loops: Promise<void>[] | null = null;
  private readonly idleAbort = new AbortController();

  constructor(options: DroneOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.id = options.id ?? defaultDroneId();
    // At the default slots every lane asked for (all the store's) gets laneSlots; a chosen concurrency opens a lane per MIN_LANE_SLOTS it fills.
    const chosen = options.concurrency === undefined ? undefined : Math.max(1, options.concurrency);
    const wanted = options.lanes ?? (chosen === undefined ? this.store.lanes : Math.floor(chosen / MIN_LANE_SLOTS));
    const count = Math.max(1, Math.min(this.store.lanes, wanted, chosen ?? Infinity));
    this.concurrency = chosen ?? this.store.laneSlots * count;
    this.lanes = Array.from({ length: count }, (_, index) => ({ index, wakeUp: null, pendingWake: false, waitsForAnySlot: false, failedClaims: 0 }));
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.forceLease = options.forceLease ?? false;
    this.clock = options.clock ?? systemClock;
    this.maxIdleMs = options.maxIdleMs ?? 1_000;
    this.onEvent = options.onEvent ?? (() => {});
    this.runId = options.runId;
    this.ticker = options.ticker ?? realTicker;
    this.leases = new LeaseKeeper({ store: this.store, clock: this.clock, worker: this.id, ticker: this.ticker });
    this.share = new LaneShare({
      store: this.store, worker: this.id, lanes: count, concurrency: this.concurrency, ticker: this.ticker,
      onChange: () => this.lanes.forEach((lane) => this.wake(lane)),
    });
  }

  get active(): number {
    return this.running.size;
  }

  /** Claim loops (one per write lane used). */
  get laneCount(): number {
    return this.lanes.length;
  }

  /** Lanes claiming now: all of them, or this drone's share while others hold leases too. */
  get openLanes(): number {
    return this.share.open;
  }

  start(): this {
    if (this.loops) return this;
    this.loops = this.lanes.map((lane) => this.claimLoop(lane));
    this.share.start();
    return this;
  }

  /** Stops claiming; waits up to `graceMs` for running tasks, then releases their leases. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.share.stop();
    for (const lane of this.lanes) this.wake(lane);
    this.idleAbort.abort();
    await Promise.all(this.loops ?? []);
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let cancelGrace = () => {};
    await Promise.race([all(), new Promise<void>((resolve) => (cancelGrace = setLongTimeout(resolve, graceMs)))]);
    cancelGrace();
    for (const running of this.running.values()) running.abort.abort(new ShutdownAbort());
    await all();
    this.leases.stop();
  }

  private wake(lane: Lane): void {
    lane.pendingWake = true;
    lane.wakeUp?.();
  }

  /**
   * Resolves at the lane's next wake (at once if one is pending). `sooner`
   * may end the wait first: it gets the resolver and returns what to undo
   * when the wait ends.
   */
  private woken(lane: Lane, sooner?: (done: () => void) => () => void): Promise<void> {
    if (lane.pendingWake) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let undo = () => {};
      const done = () => {
        if (lane.wakeUp === done) lane.wakeUp = null; // it may run twice (a wait it undoes ends too): by then the lane may wait anew
        undo();
        resolve();
      };
      lane.wakeUp = done;
      if (sooner) undo = sooner(done);
    });
  }

  /**
   * Waits for a slot: with every slot taken, nothing the database does can
   * be claimed, so there is nothing to watch there (a watch for every batch
   * of a busy lane was 3% of a drone's CPU). A lane with room of its own is
   * held by the drone's bound (another lane over its share after the slots
   * were spread anew, or a closed lane's tasks): any task settling frees it.
   * Otherwise only its own tasks do. maxIdleMs stays the bound.
   */
  private slotFreed(lane: Lane, anySlot: boolean): Promise<void> {
    return this.woken(lane, (done) => {
      lane.waitsForAnySlot = anySlot;
      const timer = setTimeout(done, this.maxIdleMs);
      return () => {
        clearTimeout(timer);
        lane.waitsForAnySlot = false;
      };
    });
  }

  /** A task of `lane` settled or finished: its slot is free for the lane, and for the lanes waiting for any slot. */
  private freed(lane: Lane): void {
    this.wake(lane);
    for (const other of this.lanes) if (other.waitsForAnySlot) this.wake(other);
  }

  /**
   * After a failed claim: a plain timer. A change in the database does not end
   * it, since the claim that failed would most likely fail again at once. A
   * schema dropped under a running worker had each lane claim and fail about
   * 700 times a second, its own failed transactions waking it. A local wake
   * (one of its tasks settling, stop) still does.
   */
  private backOff(lane: Lane, ms: number): Promise<void> {
    return this.woken(lane, (done) => {
      const timer = setTimeout(done, ms);
      return () => clearTimeout(timer);
    });
  }

  /** Sleeps `ms` at most; a local wake (a slot of the lane freed) or a change in the database ends it early. */
  private idle(lane: Lane, ms: number, since: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return this.woken(lane, (done) => {
      const changed = new AbortController();
      const timer = setTimeout(done, ms);
      void this.store.waitForChange({ since, signal: AbortSignal.any([changed.signal, this.idleAbort.signal]), maxWaitMs: ms }).then(done, done);
      return () => {
        clearTimeout(timer);
        changed.abort();
      };
    });
  }

  /** A lane's free slots (own), and the drone's (a closed lane's tasks still run, and count). */
  private room(lane: Lane): { own: number; drone: number } {
    let mine = 0;
    let all = 0;
    for (const running of this.running.values()) {
      if (running.settling) continue;
      all++;
      if (running.lane === lane) mine++;
    }
    return { own: this.share.slotsOf(lane.index) - mine, drone: this.concurrency - all };
  }

  /**
   * What `lane` claims now, as (workflows, how many) groups: all workflows
   * without a concurrency limit together, and each limited one up to its
   * headroom. (Priority holds within a group; across groups the unlimited go
   * first.) The headroom counts every lane's tasks and claims in flight; a
   * settling task frees its place only for its own lane, whose claim commits
   * with the task's last write: another lane's claim could commit first.
   */
  private claimGroups(lane: Lane, free: number): { groups: ClaimGroup[]; limited: ClaimGroup[] } {
    const unlimited: string[] = [];
    const limited: ClaimGroup[] = [];
    for (const name of this.registry.names()) {
      const limit = this.registry.get(name)?.limits?.concurrency;
      if (!limit) {
        unlimited.push(name);
        continue;
      }
      let active = this.claiming.get(name) ?? 0;
      for (const running of this.running.values()) {
        if (running.task.workflow === name && !(running.settling && running.lane === lane)) active++;
      }
      if (active < limit) limited.push({ workflows: [name], limit: Math.min(free, limit - active) });
    }
    return { groups: unlimited.length > 0 ? [{ workflows: unlimited, limit: free }, ...limited] : limited, limited };
  }

  /** Counts (sign 1) or uncounts (-1) the slots of limited workflows (a group each) a claim in flight asks for. */
  private reserve(limited: readonly ClaimGroup[], sign: 1 | -1): void {
    for (const { workflows: [name], limit } of limited) this.claiming.set(name!, (this.claiming.get(name!) ?? 0) + sign * limit);
  }

  private async claimLoop(lane: Lane): Promise<void> {
    while (!this.stopping) {
      if (this.store.isClosed) {
        // Its waits would end at once and its claims fail at once: claiming on would spin.
        if (lane.index === 0) this.onEvent({ type: "error", message: "the store was closed: this drone stops claiming" });
        return;
      }
      if (lane.index >= this.share.open) {
        await this.woken(lane); // a closed lane waits to be opened again (or the drone to stop)
        lane.pendingWake = false;
        continue;
      }
      lane.pendingWake = false;
      const room = this.room(lane);
      const free = Math.max(0, Math.min(room.own, room.drone));
      let claimed: ClaimedTask[] = [];
      let failed = false;
      const { groups, limited } = free > 0 ? this.claimGroups(lane, free) : { groups: [], limited: [] };
      if (groups.length > 0) {
        this.reserve(limited, 1);
        try {
          claimed = await this.store.claimTasks(this.id, free, this.leaseMs, { groups, runId: this.runId, lane: lane.index });
          lane.failedClaims = 0;
          for (const task of claimed) this.launch(task, lane);
          if (claimed.length > 0) this.share.foundWork();
        } catch (error) {
          failed = true;
          lane.failedClaims++;
          this.onEvent({ type: "error", message: `claim failed: ${(error as Error).message}` });
        } finally {
          this.reserve(limited, -1); // what it claimed is running now
        }
      }
      if (this.stopping) break;
      if (failed) {
        await this.backOff(lane, claimBackoffMs(lane.failedClaims, this.maxIdleMs));
        continue;
      }
      if (claimed.length > 0 && claimed.length === free) continue; // there may be more
      if (lane.pendingWake) continue; // a slot freed while the claim was out
      if (free === 0) {
        await this.slotFreed(lane, room.own > 0);
        continue;
      }
      const since = this.store.changeToken(); // a change after this (another process's enqueue) ends the sleep
      await this.idle(lane, await this.idleFor(groups), since);
    }
  }

  /** How long to sleep: until the store says a claim could find something, at most maxIdleMs. */
  private async idleFor(groups: ClaimGroup[]): Promise<number> {
    if (groups.length === 0) return this.maxIdleMs; // nothing to claim for (every limited workflow at its limit, or none registered): a task of this lane settling or a commit ends the wait
    try {
      const due = await this.store.nextDueAt({ groups, runId: this.runId });
      return due === null ? this.maxIdleMs : Math.min(this.maxIdleMs, due - this.clock.now());
    } catch {
      return this.maxIdleMs;
    }
  }

  private launch(task: ClaimedTask, lane: Lane): void {
    const workflow = this.registry.get(task.workflow)!;
    const abort = new AttemptAbort();
    const started = performance.now();
    this.onEvent({ type: "claimed", task, lane: lane.index });
    const entry: Running = { task, lane, abort, done: Promise.resolve(), settling: false };
    entry.done = runAttempt({
      store: this.store, clock: this.clock, worker: this.id, claimed: task, workflow, workflows: this.registry,
      claimLeaseMs: this.leaseMs, forceLeaseMs: this.forceLease ? this.leaseMs : undefined, abort,
      leases: this.leases,
      onSettling: () => {
        entry.settling = true;
        this.freed(lane); // claim for this slot now: the claim joins the batch of the task's last write
      },
    })
      .catch((error): AttemptResult => {
        this.onEvent({ type: "error", message: (error as Error).message });
        return { outcome: "lost", unblocked: 0, error: (error as Error).message };
      })
      .then((result) => {
        this.running.delete(task.attemptId);
        this.store.attemptEnded(task.attemptId);
        this.onEvent({ type: "finished", task, result, ms: performance.now() - started });
        this.freed(lane);
      });
    this.running.set(task.attemptId, entry);
  }
}
