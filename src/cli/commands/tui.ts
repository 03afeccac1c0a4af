/** `farcaster tui [RUN]`: the dashboard, in a terminal only (scripts read `farcaster status --json`). */
import { UsageError } from "../../core/errors.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";

export const tuiCommand: Command = {
  name: "tui",
  summary: "the dashboard: runs, tasks by wave, drones, gates and events, live; approve, reject or cancel from it",
  usage: "tui [RUN]",
  positionals: [{ name: "RUN", what: "a run id", optional: true, hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS },
  async run(context) {
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      throw new UsageError("farcaster tui needs a terminal on stdin and stdout; for scripts and pipes, read `farcaster status --json` (and `farcaster gates --json`)");
    }
    // Loaded here, not at the top: other commands never load OpenTUI and its native library.
    const { runDashboard } = await import("../../tui/main.ts");
    return runDashboard({ db: stringOption(context, "db"), runId: context.positionals[0], color: context.output.color });
  },
};
