/** `farcaster status [RUN]`: the recent runs, or one run with its tasks. */
import { formatDuration } from "../../core/duration.ts";
import type { RunRecord, TaskRecord } from "../../store/types.ts";
import { intOption, withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";
import { paintState, table, type Output } from "../output.ts";

/** Who holds a running task and for how long yet; why a failed one failed. */
function taskNote(task: TaskRecord, now: number): string {
  if (task.state === "running" && task.leaseOwner) {
    const left = (task.leaseExpiresAt ?? now) - now;
    return `${task.leaseOwner}, lease ${left >= 0 ? `${formatDuration(left)} left` : `expired ${formatDuration(-left)} ago`}`;
  }
  if (task.state === "failed") {
    const message = task.error?.message.split("\n")[0] ?? "";
    return `${task.failReason ?? "error"}${message ? `: ${message.length > 80 ? message.slice(0, 79) + "…" : message}` : ""}`;
  }
  return "";
}

function printRun(output: Output, run: RunRecord, tasks: TaskRecord[], now: number): void {
  const done = tasks.filter((task) => task.state === "succeeded").length;
  output.out(`run ${run.id}  ${paintState(output, run.state)}  ${done}/${tasks.length} tasks succeeded`);
  output.out(`goal: ${run.goal}`);
  const plain = [["TASK", "STATE", "AFTER", "ATTEMPTS", "WORKFLOW", "DRONE / REASON"]];
  for (const task of tasks) plain.push([task.key, task.state, task.after.join(",") || "-", String(task.attempts), task.workflow, taskNote(task, now) || "-"]);
  const painted = plain.map((row, i) => (i === 0 ? row : [row[0]!, paintState(output, row[1]!), ...row.slice(2)]));
  for (const line of table(painted, plain)) output.out("  " + line);
}

function printRuns(output: Output, runs: RunRecord[], now: number): void {
  if (runs.length === 0) {
    output.out("no runs yet; start one with `farcaster GOAL.md`");
    return;
  }
  const plain = [["RUN", "STATE", "TASKS", "AGE", "GOAL"]];
  for (const run of runs) {
    const goal = run.goal.split("\n")[0]!;
    plain.push([run.id, run.state, `${run.tasksTotal - run.tasksOpen}/${run.tasksTotal}`, formatDuration(now - run.createdAt), goal.length > 60 ? goal.slice(0, 59) + "…" : goal]);
  }
  const painted = plain.map((row, i) => (i === 0 ? row : [row[0]!, paintState(output, row[1]!), ...row.slice(2)]));
  for (const line of table(painted, plain)) output.out(line);
}

export const statusCommand: Command = {
  name: "status",
  summary: "list recent runs, or show one run with its tasks",
  usage: "status [RUN] [--limit N]",
  positionals: [{ name: "RUN", what: "a run id", optional: true, hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, limit: { type: "string", valueName: "N", description: "how many runs to list (default 20)" } },
  async run(context) {
    const limit = intOption(context, "limit", { min: 1, max: 100_000, fallback: 20 }); // checked before the database is opened
    return withStore(context, "read", async (store) => {
      const runId = context.positionals[0];
      if (runId) {
        const run = await store.getRun(runId);
        const tasks = await store.listTasks(runId);
        if (context.values.json) context.output.json({ run, tasks });
        else printRun(context.output, run, tasks, Date.now());
      } else {
        const runs = await store.listRuns({ limit });
        if (context.values.json) context.output.json({ runs });
        else printRuns(context.output, runs, Date.now());
      }
      return 0;
    });
  },
};
