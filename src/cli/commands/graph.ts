/** `farcaster graph RUN`: the run's DAG as Mermaid (default) or DOT, coloured by each task's state, or as JSON. */
import { UsageError } from "../../core/errors.ts";
import { graphOf, renderGraph, type GraphTask } from "../../core/graph.ts";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";

export const graphCommand: Command = {
  name: "graph",
  summary: "print a run's DAG as Mermaid or DOT (or its nodes and edges as JSON)",
  usage: "graph RUN [--format mermaid|dot] [--json]",
  positionals: [{ name: "RUN", what: "a run id", hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, format: { type: "string", valueName: "mermaid|dot", description: "output format (default mermaid)" } },
  async run(context) {
    const runId = context.positionals[0]!;
    const format = stringOption(context, "format") ?? "mermaid";
    if (format !== "mermaid" && format !== "dot") throw new UsageError(`--format is mermaid or dot (got "${format}")`);
    if (context.values.json && stringOption(context, "format") !== undefined) throw new UsageError("--json and --format are two outputs: pick one");
    return withStore(context, "read", async (store) => {
      const run = await store.getRun(runId);
      const tasks: GraphTask[] = (await store.listTasks(run.id))
        .filter((task) => task.key !== PLANNING_TASK_KEY)
        .map((task) => ({ id: task.key, title: task.title, after: task.after, state: task.state }));
      if (context.values.json) context.output.json({ run: { id: run.id, state: run.state }, ...graphOf(tasks) });
      else context.output.out(renderGraph(tasks, format));
      return 0;
    });
  },
};
