/** The shape of a CLI command: its options (for util.parseArgs and --help) and what it does. */
import type { Output } from "./output.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  /** Shown in help as `--name VALUE`. */
  valueName?: string;
  multiple?: boolean;
}

/**
 * One positional argument of a command, declared so that every command's
 * arguments are checked the same way (src/cli/main.ts): a missing one, or
 * one too many, is a usage error (exit 2) with the usage line.
 */
export interface PositionalSpec {
  /** As in the usage line: RUN, GATE, RUN/TASK, GOAL.md. */
  name: string;
  /** What it is, for "cancel needs a run id". */
  what: string;
  optional?: boolean;
  /** Where to find one, e.g. "list runs with `farcaster status`". */
  hint?: string;
}

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  output: Output;
  /**
   * With --json, what the command has to say besides its output (the
   * database it found above, ones it passed over). main() writes it as one
   * JSON object on stderr when the command ends, or inside the error object
   * when it fails: an error is exactly one JSON object on stderr.
   */
  notes?: Record<string, unknown>;
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. "status [RUN]" */
  usage: string;
  options: Record<string, OptionSpec>;
  /** The positional arguments it takes, in order; optional ones come last. */
  positionals: readonly PositionalSpec[];
  /** Returns the process exit code. */
  run(context: CommandContext): Promise<number>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  db: { type: "string", valueName: "PATH|URL", description: "database file, or postgres://USER@HOST:PORT/DB[?schema=NAME] (default: $FARCASTER_DB or .farcaster/farcaster.db)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print JSON instead of text" },
};

export function stringOption(context: CommandContext, name: string): string | undefined {
  const value = context.values[name];
  return typeof value === "string" ? value : undefined;
}
