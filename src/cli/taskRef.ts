/** Tasks on the command line: `RUN/KEY` (as shown everywhere) or the numeric id. */
import { UsageError } from "../core/errors.ts";
import type { Store, TaskRecord } from "../store/types.ts";

export async function resolveTask(store: Store, ref: string): Promise<TaskRecord> {
  if (/^\d+$/.test(ref)) return store.getTask(Number(ref));
  const slash = ref.indexOf("/");
  if (slash <= 0 || slash === ref.length - 1) {
    throw new UsageError(`"${ref}" is not a task reference; use RUN/TASK (for example r0abc/build) or the task's number`);
  }
  return store.findTask(ref.slice(0, slash), ref.slice(slash + 1));
}
