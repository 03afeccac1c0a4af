/**
 * A drone: claims up to `concurrency` tasks, runs them at once, and claims
 * again as soon as a slot frees up or a local completion made tasks ready;
 * when there is nothing to do it polls with a back-off that doubles up to
 * `maxIdleMs`. `stop()` stops claiming, lets running tasks finish for a grace
 * period, then releases the rest so other drones can take them at once.
 */
import { hostname } from "node:os";
import { systemClock, type Clock } from "../core/clock.ts";
import type { ClaimedTask, Store } from "../store/types.ts";
import { runAttempt, ShutdownAbort, type AttemptResult } from "./attempt.ts";
import type { WorkflowRegistry } from "./registry.ts";
import { DEFAULT_LEASE_MS } from "./workflow.ts";

export type DroneEvent =
  | { type: "claimed"; task: ClaimedTask }
  | { type: "finished"; task: ClaimedTask; result: AttemptResult; ms: number }
  | { type: "error"; message: string };

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
  minIdleMs?: number;
  maxIdleMs?: number;
  /** Only claim tasks of this run (the main job's own drones). */
  runId?: string;
  onEvent?: (event: DroneEvent) => void;
}

interface Running {
  task: ClaimedTask;
  controller: AbortController;
  done: Promise<void>;
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
  private readonly minIdleMs: number;
  private readonly maxIdleMs: number;
  private readonly onEvent: (event: DroneEvent) => void;
  private readonly runId: string | undefined;
  private readonly running = new Map<number, Running>();
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  private loop: Promise<void> | null = null;

  constructor(options: DroneOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.id = options.id ?? defaultDroneId();
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.forceLease = options.forceLease ?? false;
    this.clock = options.clock ?? systemClock;
    this.minIdleMs = options.minIdleMs ?? 10;
    this.maxIdleMs = options.maxIdleMs ?? 1_000;
    this.onEvent = options.onEvent ?? (() => {});
    this.runId = options.runId;
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
    await this.loop;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const running of this.running.values()) running.controller.abort(new ShutdownAbort());
    await all();
  }

  private wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  private idle(ms: number): Promise<void> {
    if (this.pendingWake) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /**
   * What to claim now, as (workflows, how many) groups: all workflows without
   * a concurrency limit together, and each limited one up to its headroom.
   * (Priority holds within a group; across groups the unlimited go first.)
   */
  private claimGroups(free: number): { workflows: string[]; limit: number }[] {
    const unlimited: string[] = [];
    const groups: { workflows: string[]; limit: number }[] = [];
    for (const name of this.registry.names()) {
      const limit = this.registry.get(name)?.limits?.concurrency;
      if (!limit) {
        unlimited.push(name);
        continue;
      }
      let active = 0;
      for (const running of this.running.values()) if (running.task.workflow === name) active++;
      if (active < limit) groups.push({ workflows: [name], limit: Math.min(free, limit - active) });
    }
    if (unlimited.length > 0) groups.unshift({ workflows: unlimited, limit: free });
    return groups;
  }

  /** Claims and launches; each group's tasks start before the next group is claimed. */
  private async claim(free: number): Promise<ClaimedTask[]> {
    const claimed: ClaimedTask[] = [];
    for (const group of this.claimGroups(free)) {
      const limit = Math.min(group.limit, free - claimed.length);
      if (limit <= 0) break;
      const tasks = await this.store.claimTasks(this.id, limit, this.leaseMs, { workflows: group.workflows, runId: this.runId });
      for (const task of tasks) this.launch(task);
      claimed.push(...tasks);
    }
    return claimed;
  }

  private async claimLoop(): Promise<void> {
    let idleMs = this.minIdleMs;
    while (!this.stopping) {
      this.pendingWake = false;
      const free = this.concurrency - this.running.size;
      let claimed: ClaimedTask[] = [];
      if (free > 0) {
        try {
          claimed = await this.claim(free);
        } catch (error) {
          this.onEvent({ type: "error", message: `claim failed: ${(error as Error).message}` });
        }
      }
      if (claimed.length > 0) {
        idleMs = this.minIdleMs;
        if (claimed.length === free) continue; // there may be more
      }
      if (this.stopping) break;
      await this.idle(idleMs);
      // Only an idle poll that found nothing backs off further.
      if (claimed.length === 0 && !this.pendingWake) idleMs = Math.min(this.maxIdleMs, idleMs * 2);
      else idleMs = this.minIdleMs;
    }
  }

  private launch(task: ClaimedTask): void {
    const workflow = this.registry.get(task.workflow)!;
    const controller = new AbortController();
    const started = performance.now();
    this.onEvent({ type: "claimed", task });
    const done = runAttempt({ store: this.store, clock: this.clock, worker: this.id, claimed: task, workflow, workflows: this.registry, claimLeaseMs: this.leaseMs, forceLeaseMs: this.forceLease ? this.leaseMs : undefined, controller })
      .catch((error): AttemptResult => {
        this.onEvent({ type: "error", message: (error as Error).message });
        return { outcome: "lost", unblocked: 0, error: (error as Error).message };
      })
      .then((result) => {
        this.running.delete(task.attemptId);
        this.onEvent({ type: "finished", task, result, ms: performance.now() - started });
        this.wake();
      });
    this.running.set(task.attemptId, { task, controller, done });
  }
}
