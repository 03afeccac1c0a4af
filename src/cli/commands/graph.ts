/** `farcaster graph RUN`: the run's DAG as Mermaid (default) or DOT, with each task's state. */
import { UsageError } from "../../core/errors.ts";
import { renderGraph } from "../../core/graph.ts";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";

export const graphCommand: Command = {
  name: "graph",
  summary: "print a run's DAG as Mermaid or DOT",
  usage: "graph RUN [--format mermaid|dot]",
  positionals: [{ name: "RUN", what: "a run id", hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, format: { type: "string", valueName: "mermaid|dot", description: "output format (default mermaid)" } },
  async run(context) {
    const runId = context.positionals[0]!;
    const format = stringOption(context, "format") ?? "mermaid";
    if (format !== "mermaid" && format !== "dot") throw new UsageError(`--format is mermaid or dot (got "${format}")`);
    return withStore(context, "read", async (store) => {
      await store.getRun(runId); // an unknown run is not found, not an empty graph
      const tasks = (await store.listTasks(runId)).filter((task) => task.key !== PLANNING_TASK_KEY);
      context.output.out(renderGraph(tasks.map((t) => ({ id: t.key, title: t.title, after: t.after, state: t.state })), format));
      return 0;
    });
  },
};
