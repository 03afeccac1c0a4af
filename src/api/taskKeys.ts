/**
 * The workplan ids (keys) of a run's tasks, for streams whose records name a
 * task by its numeric id. Read once per stream, and again only when a task
 * appears that was not there (a planning run's tasks arrive with its plan).
 */
import type { Store } from "../store/types.ts";

export class TaskKeys {
  private keys = new Map<number, string | null>();

  constructor(
    private readonly store: Store,
    private readonly runId: string,
  ) {}

  async of(taskId: number | null): Promise<string | null> {
    if (taskId === null) return null;
    if (!this.keys.has(taskId)) {
      const { tasks } = await this.store.readRunSummary(this.runId);
      this.keys = new Map(tasks.map((task) => [task.id, task.key]));
      if (!this.keys.has(taskId)) this.keys.set(taskId, null); // not of this run: do not read again for it
    }
    return this.keys.get(taskId) ?? null;
  }
}
