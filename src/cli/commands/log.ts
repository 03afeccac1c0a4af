/** `farcaster log RUN`: the run's events, oldest first. */
import { withStore } from "../args.ts";
import { jsonPieces } from "../jsonStream.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";

export const logCommand: Command = {
  name: "log",
  summary: "show a run's event log",
  usage: "log RUN",
  positionals: [{ name: "RUN", what: "a run id", hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION },
  async run(context) {
    const runId = context.positionals[0]!;
    return withStore(context, "read", async (store) => {
      await store.getRun(runId);
      // Page by page, never the whole log in memory: a follower that stops once it has caught up.
      const events = store.followEvents({ runId, until: () => true });
      if (context.values.json) {
        const out = context.output;
        out.write('{\n  "events": [');
        let first = true;
        for await (const event of events) {
          out.write(`${first ? "" : ","}\n    ${[...jsonPieces(event, "    ")].join("")}`);
          first = false;
        }
        out.write(first ? "]\n}\n" : "\n  ]\n}\n");
        return 0;
      }
      const tasks = new Map((await store.listTasks(runId)).map((task) => [task.id, task.key]));
      for await (const event of events) {
        const task = event.taskId === null ? "" : ` ${tasks.get(event.taskId) ?? event.taskId}`;
        const data = event.data === null ? "" : ` ${JSON.stringify(event.data)}`;
        context.output.out(`${new Date(event.at).toISOString()} ${event.type}${task} by ${event.actor}${data}`);
      }
      return 0;
    });
  },
};
