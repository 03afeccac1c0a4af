/**
 * A run's task summaries kept between reads, for anything that shows a run
 * while it moves (the main job's live view, the dashboard): after a first
 * full read, each read asks only for the tasks changed since, so a run of
 * tens of thousands of tasks costs a few rows per refresh instead of all of
 * them (reading them all on every change made the main job quadratic in the
 * run's size).
 *
 * Why "changed since" is enough: every change of a task sets its updatedAt
 * from the writer's clock, and the SQLite store takes that time once it
 * holds the write lock, so a later commit never carries an earlier time: the
 * tasks changed at or after the latest updatedAt seen (two commits can share
 * a millisecond) are all that changed since. A full read every `fullReadMs`
 * bounds what a clock stepped back, drones on several machines (PostgreSQL),
 * or a write that forgot updatedAt could hide; so does a change in the
 * number of tasks (a plan inserted).
 */
import type { RunSummary, Store, TaskSummary } from "./types.ts";

/** A full read at least this often (see above). */
export const FULL_READ_MS = 5_000;

export interface CachedSummary {
  summary: RunSummary;
  /** True when this read was a full one whose tasks are not those the cache held (a first read, a plan inserted). */
  tasksChanged: boolean;
}

export class RunSummaryCache {
  private tasks: TaskSummary[] = [];
  private position = new Map<number, number>();
  private latest = 0;
  private fullAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    readonly runId: string,
    private readonly fullReadMs: number = FULL_READ_MS,
  ) {}

  /** The run as of now; `now` is the reader's clock (when the last full read is old enough, it reads all again). */
  async read(now: number, options: { gates?: boolean } = {}): Promise<CachedSummary> {
    const gates = options.gates ?? true;
    if (now - this.fullAt < this.fullReadMs) {
      const changed = await this.store.readRunSummary(this.runId, { changedSince: this.latest, gates });
      if (changed.taskCount === this.tasks.length && changed.tasks.every((task) => this.position.has(task.id))) {
        const tasks = this.tasks.slice();
        for (const task of changed.tasks) tasks[this.position.get(task.id)!] = task;
        this.tasks = tasks;
        this.latest = Math.max(this.latest, latestUpdate(changed.tasks));
        return { summary: { ...changed, tasks }, tasksChanged: false };
      }
    }
    const summary = await this.store.readRunSummary(this.runId, { gates });
    const tasksChanged = summary.tasks.length !== this.tasks.length || summary.tasks.some((task, i) => task.id !== this.tasks[i]!.id);
    this.tasks = summary.tasks;
    this.position = new Map(summary.tasks.map((task, i) => [task.id, i]));
    this.latest = latestUpdate(summary.tasks);
    this.fullAt = now;
    return { summary, tasksChanged };
  }
}

function latestUpdate(tasks: readonly TaskSummary[]): number {
  let latest = 0;
  for (const task of tasks) if (task.updatedAt > latest) latest = task.updatedAt;
  return latest;
}
