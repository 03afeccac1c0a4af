/** `farcaster emit EVENT [--data JSON]`: records a named fact; tasks waiting for it go on. The first emit wins. */
import { UsageError } from "../../core/errors.ts";
import { defaultDecider } from "../../services/gates.ts";
import { emitSignal, eventNameProblem } from "../../services/signals.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";

export const emitCommand: Command = {
  name: "emit",
  summary: "emit a named event that waiting tasks receive (the first emit wins)",
  usage: "emit EVENT [--data JSON]",
  positionals: [{ name: "EVENT", what: "an event name" }],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    data: { type: "string", valueName: "JSON", description: "the event's data, as JSON" },
    by: { type: "string", valueName: "NAME", description: "who emits it (default $FARCASTER_USER or $USER)" },
  },
  async run(context) {
    const name = context.positionals[0]!;
    // A name that cannot be an event is a command-line mistake (exit 2), found before the store is opened.
    const problem = eventNameProblem(name);
    if (problem) throw new UsageError(problem);
    const raw = stringOption(context, "data");
    let data: unknown = null;
    if (raw !== undefined) {
      try {
        data = JSON.parse(raw);
      } catch (error) {
        throw new UsageError(`--data is not valid JSON: ${(error as Error).message}; e.g. --data '{"version": "1.2"}'`);
      }
    }
    return withStore(context, "existing", async (store) => {
      const result = await emitSignal(store, name, data, stringOption(context, "by") ?? defaultDecider());
      if (context.values.json) context.output.json(result);
      else if (result.created) context.output.out(`emitted ${name}; ${result.woken} waiting task(s) go on`);
      else context.output.out(`${name} was already emitted by ${result.signal.emittedBy} at ${new Date(result.signal.emittedAt).toISOString()}; the first emit stands`);
      return 0;
    });
  },
};
