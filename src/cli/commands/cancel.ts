/** `farcaster cancel RUN`: cancels the run's open tasks; running ones stop at their next write. */
import { UsageError } from "../../core/errors.ts";
import { refuseBadReason } from "../../core/text.ts";
import { defaultDecider } from "../../services/gates.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";

export const cancelCommand: Command = {
  name: "cancel",
  summary: "cancel a run and its unfinished tasks",
  usage: "cancel RUN [--reason TEXT]",
  positionals: [{ name: "RUN", what: "a run id", hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, reason: { type: "string", valueName: "TEXT", description: "why (kept in the event log)" } },
  async run(context) {
    const runId = context.positionals[0]!;
    const reason = stringOption(context, "reason")?.trim();
    if (reason === "") throw new UsageError(`--reason needs the text of why, such as --reason "superseded by the next release"; leave it out to give none`);
    refuseBadReason(reason, "--reason");
    return withStore(context, "existing", async (store) => {
      const run = await store.cancelRun(runId, { actor: defaultDecider(), reason });
      if (context.values.json) context.output.json({ run });
      else context.output.out(`run ${run.id} is ${run.state}`);
      return 0;
    });
  },
};
