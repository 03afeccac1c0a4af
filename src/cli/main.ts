/**
 * The CLI: finds the command, parses its options with util.parseArgs, runs it,
 * and turns errors into a message on stderr and an exit code
 * (1: the operation failed, 2: the command line was wrong).
 */
import { isMainJobArgument } from "./mainJobArgument.ts";
import { parseArgs } from "node:util";
import { FarcasterError, UsageError } from "../core/errors.ts";
import type { Command, OptionSpec } from "./command.ts";
import { cancelCommand } from "./commands/cancel.ts";
import { emitCommand } from "./commands/emit.ts";
import { approveCommand, gatesCommand, rejectCommand } from "./commands/gates.ts";
import { graphCommand } from "./commands/graph.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { planCommand } from "./commands/plan.ts";
import { scheduleCommand } from "./commands/schedule.ts";
import { serveCommand } from "./commands/serve.ts";
import { workerCommand } from "./commands/worker.ts";
import { workersCommand } from "./commands/workers.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { logCommand } from "./commands/log.ts";
import { logsCommand } from "./commands/logs.ts";
import { statusCommand } from "./commands/status.ts";
import { tuiCommand } from "./commands/tui.ts";
import { resumeCommand, runCommand } from "./commands/runGoal.ts";
import { consoleOutput, type Output } from "./output.ts";

export const COMMANDS: readonly Command[] = [
  runCommand,
  planCommand,
  resumeCommand,
  workerCommand,
  workersCommand,
  serveCommand,
  statusCommand,
  tuiCommand,
  inspectCommand,
  logCommand,
  logsCommand,
  graphCommand,
  gatesCommand,
  approveCommand,
  rejectCommand,
  emitCommand,
  scheduleCommand,
  cancelCommand,
  doctorCommand,
];

const VERSION = "0.1.0";

function formatOptions(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.type === "string" ? ` ${spec.valueName ?? "VALUE"}` : ""}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    "farcaster — turn a workplan into finished work by a swarm of workers, without losing control of them",
    "",
    "usage: farcaster <command> [options]",
    "       farcaster GOAL.md              (same as `farcaster run GOAL.md`)",
    "",
    "commands:",
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "run `farcaster <command> --help` for a command's options.",
    "environment: FARCASTER_DB (database file or postgres:// URL), FARCASTER_SYNC (normal|full, SQLite), FARCASTER_TOKEN (serve),",
    "             OPENAI_API_KEY / OPENAI_BASE_URL / FARCASTER_MODEL (the Architect and agents), NO_COLOR",
  ].join("\n");
}

export function commandHelp(command: Command): string {
  return [`usage: farcaster ${command.usage}`, "", command.summary, "", "options:", ...formatOptions(command.options)].join("\n");
}

/**
 * `-c -1`: parseArgs takes a value that starts with a dash for an option,
 * and says the argument is "ambiguous" in three lines. A negative number is
 * a value, so it is joined to its option (`--concurrency=-1`), and the
 * option's own check names what it accepts.
 */
function joinNegativeValues(command: Command, args: string[]): string[] {
  const takesValue = new Set<string>();
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (spec.short) takesValue.add(`-${spec.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(arg.startsWith("--") ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function parseCommandArgs(command: Command, args: string[]) {
  args = joinNegativeValues(command, args);
  const options = Object.fromEntries(
    Object.entries(command.options).map(([name, spec]) => [
      name,
      { type: spec.type, multiple: spec.multiple ?? false, ...(spec.short ? { short: spec.short } : {}) },
    ]),
  );
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/**
 * Every command's positionals checked the same way, from its declaration:
 * a missing one, or one too many, is a usage error (exit 2).
 */
function checkPositionals(command: Command, positionals: string[]): void {
  const specs = command.positionals;
  // An empty one (a variable that was not set: `farcaster status "$RUN"`) would otherwise mean "all" or "none found".
  const blank = positionals.findIndex((arg, i) => i < specs.length && arg.trim() === "");
  if (blank >= 0) {
    const spec = specs[blank]!;
    throw new UsageError(`${command.name}: ${spec.name} is empty; give ${spec.what}${spec.hint ? ` (${spec.hint})` : ""}`);
  }
  const missing = specs.find((spec, i) => !spec.optional && positionals[i] === undefined);
  if (missing) {
    throw new UsageError(`${command.name} needs ${missing.what}${missing.hint ? ` (${missing.hint})` : ""}`);
  }
  if (positionals.length > specs.length) {
    const extra = positionals.slice(specs.length).map((arg) => `"${arg}"`).join(", ");
    const takes = specs.length === 0 ? "no arguments" : `${specs.length === 1 ? "one argument" : `at most ${specs.length} arguments`} (${specs.map((spec) => spec.name).join(" ")})`;
    throw new UsageError(`${command.name} takes ${takes}; unexpected ${extra}`);
  }
}

export async function main(argv: string[], output: Output = consoleOutput()): Promise<number> {
  // Known before parsing, so that even a command line that does not parse gets its error as JSON.
  const json = argv.includes("--json");
  let command: Command | undefined;
  const notes: Record<string, unknown> = {};
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === "help" || first === "--help" || first === "-h") {
      const topic = first === "help" ? COMMANDS.find((command) => command.name === rest[0]) : undefined;
      output.out(topic ? commandHelp(topic) : mainHelp());
      return 0;
    }
    if (first === "--version" || first === "-v") {
      output.out(VERSION);
      return 0;
    }
    command = COMMANDS.find((candidate) => candidate.name === first);
    let args = rest;
    if (!command) {
      // `farcaster goal.md` is the main job.
      if (isMainJobArgument(first)) {
        command = runCommand;
        args = argv;
      } else {
        throw new UsageError(`unknown command "${first}"; commands: ${COMMANDS.map((c) => c.name).join(", ")} (see \`farcaster --help\`)`);
      }
    }
    const { values, positionals } = parseCommandArgs(command, args);
    if (values.help) {
      output.out(commandHelp(command));
      return 0;
    }
    checkPositionals(command, positionals);
    const code = await command.run({ values, positionals, output, notes });
    if (Object.keys(notes).length > 0) output.err(JSON.stringify(notes));
    return code;
  } catch (error) {
    return reportError(output, error, { json, command, notes });
  }
}

/** The exit code of an error: 2 for a wrong command line (or a changed goal: the person decides), else 1. */
export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError || (error instanceof FarcasterError && error.code === "goal_changed") ? 2 : 1;
}

/**
 * An error as the user sees it: one line (plus the usage line for a usage
 * error) on stderr, or with --json one JSON object {"error": {"code",
 * "message"}} on stderr (with the command's notes beside it: `"database"`);
 * the exit code is the same either way. An error that
 * is not ours is a bug: its message, and its stack only with FARCASTER_DEBUG.
 */
function reportError(output: Output, error: unknown, where: { json: boolean; command?: Command; notes: Record<string, unknown> }): number {
  const ours = error instanceof FarcasterError;
  const code = ours ? error.code : "internal";
  const message = ours ? error.message : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
  const usage = error instanceof UsageError && where.command ? usageFor(where.command, message) : undefined;
  if (where.json) {
    output.err(JSON.stringify({ error: { code, message, ...(usage ? { usage } : {}) }, ...where.notes }));
  } else {
    output.err(`farcaster: ${message} [${code}]`);
    if (usage) output.err(`usage: ${usage}\nsee \`farcaster ${where.command!.name} --help\``);
    if (!ours && process.env.FARCASTER_DEBUG) output.err(String((error as Error)?.stack ?? error));
  }
  return exitCodeOf(error);
}

/**
 * The usage line shown with a usage error: the command's, and the option the
 * error is about when that line does not show it (`worker --lease 4000d`
 * should not answer with a usage line that only names --concurrency).
 */
function usageFor(command: Command, message: string): string {
  const named = /^--([a-z][a-z-]*)/.exec(message)?.[1];
  const spec = named === undefined ? undefined : command.options[named];
  if (!spec || command.usage.includes(`--${named}`)) return `farcaster ${command.usage}`;
  return `farcaster ${command.usage} [--${named}${spec.type === "string" ? ` ${spec.valueName ?? "VALUE"}` : ""}]`;
}
