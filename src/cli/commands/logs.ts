/** `farcaster logs RUN/TASK [--follow]`: a task's output (stdout, stderr), as it happened. */
import { TERMINAL_TASK_STATES } from "../../core/states.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";
import { paint } from "../output.ts";
import { resolveTask } from "../taskRef.ts";

export const logsCommand: Command = {
  name: "logs",
  summary: "show a task's output (stdout and stderr); --follow waits for more",
  usage: "logs RUN/TASK [--follow]",
  positionals: [{ name: "RUN/TASK", what: "a task (RUN/TASK or its number)", hint: "list a run's tasks with `farcaster status RUN`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, follow: { type: "boolean", short: "f", description: "keep printing until the task has ended" } },
  async run(context) {
    const ref = context.positionals[0]!;
    return withStore(context, "read", async (store) => {
      const task = await resolveTask(store, ref);
      // Without --follow: what is there now. With it: until the task has ended (and its last output is read).
      const until = context.values.follow ? async () => TERMINAL_TASK_STATES.has((await store.getTask(task.id)).state) : () => true;
      for await (const entry of store.followLogs(task.id, { until })) {
        if (context.values.json) context.output.out(JSON.stringify(entry));
        else {
          const text = entry.text.endsWith("\n") ? entry.text.slice(0, -1) : entry.text;
          const styled = entry.stream === "stderr" ? paint(context.output, "red", text) : entry.stream === "info" ? paint(context.output, "dim", text) : text;
          context.output.out(styled);
        }
      }
      return 0;
    });
  },
};
