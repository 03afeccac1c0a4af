/** `farcaster inspect RUN/TASK`: a task's attempts and journal, each step's input and output. */
import { formatDuration } from "../../core/duration.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";
import { paintState, preview } from "../output.ts";
import { resolveTask } from "../taskRef.ts";

export const inspectCommand: Command = {
  name: "inspect",
  summary: "show a task's attempts and journal (each step's input, output or error, timing)",
  usage: "inspect RUN/TASK",
  positionals: [{ name: "RUN/TASK", what: "a task (RUN/TASK or its number)", hint: "list a run's tasks with `farcaster status RUN`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION },
  async run(context) {
    const ref = context.positionals[0]!;
    return withStore(context, "read", async (store) => {
      const task = await resolveTask(store, ref);
      const [attempts, steps] = await Promise.all([store.listAttempts(task.id), store.listSteps(task.id)]);
      if (context.values.json) {
        context.output.json({ task, attempts, steps });
        return 0;
      }
      const out = context.output;
      out.out(`task ${task.runId}/${task.key} (#${task.id})  ${paintState(out, task.state)}  workflow ${task.workflow}`);
      out.out(`title: ${task.title}`);
      if (task.after.length > 0) out.out(`after: ${task.after.join(", ")}`);
      out.out(`input: ${preview(task.input, 400)}`);
      if (task.state === "succeeded") out.out(`output: ${preview(task.output, 400)}`);
      if (task.error) out.out(`error: ${task.error.message}${task.failReason ? ` (${task.failReason})` : ""}`);
      out.out("");
      out.out(`attempts (${attempts.length}):`);
      for (const a of attempts) {
        const took = a.endedAt === null ? "running" : formatDuration(a.endedAt - a.startedAt);
        out.out(`  #${a.number} id ${a.id}  ${paintState(out, a.state)}  by ${a.worker}  ${new Date(a.startedAt).toISOString()}  ${took}${a.error ? `  ${a.error.message}` : ""}`);
      }
      out.out("");
      out.out(`journal (${steps.length} steps):`);
      for (const s of steps) {
        const took = s.endedAt === null ? "" : ` ${formatDuration(s.endedAt - s.startedAt)}`;
        const result = s.status === "failed" ? `error ${s.error?.message}` : s.status === "waiting" ? "waiting" : `-> ${preview(s.output, 120)}`;
        out.out(`  ${String(s.seq).padStart(3)} ${s.key} [${s.kind}] attempt ${s.attemptId}${took}  in ${preview(s.input, 60)} ${result}`);
      }
      return 0;
    });
  },
};
