/** `farcaster logs RUN/TASK [--follow]`: a task's output (stdout, stderr), as it happened. */
import { UsageError } from "../../core/errors.ts";
import { TERMINAL_TASK_STATES } from "../../core/states.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";
import { paint } from "../output.ts";
import { resolveTask } from "../taskRef.ts";

export const logsCommand: Command = {
  name: "logs",
  summary: "show a task's output (stdout and stderr); --follow waits for more",
  usage: "logs RUN/TASK [--follow]",
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, follow: { type: "boolean", short: "f", description: "keep printing until the task has ended" } },
  async run(context) {
    const ref = context.positionals[0];
    if (!ref) throw new UsageError("logs needs a task: farcaster logs RUN/TASK");
    return withStore(context, async (store) => {
      const task = await resolveTask(store, ref);
      let after = 0;
      for (;;) {
        const entries = await store.listLogs(task.id, { afterId: after, limit: 1000 });
        for (const entry of entries) {
          after = entry.id;
          if (context.values.json) context.output.out(JSON.stringify(entry));
          else {
            const text = entry.text.endsWith("\n") ? entry.text.slice(0, -1) : entry.text;
            const styled = entry.stream === "stderr" ? paint(context.output, "red", text) : entry.stream === "info" ? paint(context.output, "dim", text) : text;
            process.stdout.write(styled + "\n");
          }
        }
        if (entries.length > 0) continue;
        if (!context.values.follow || TERMINAL_TASK_STATES.has((await store.getTask(task.id)).state)) break;
        await Bun.sleep(250);
      }
      return 0;
    }, { existing: true });
  },
};
