/**
 * `farcaster schedule add|list|log|pause|resume|rm|run`: recurring plans on cron.
 * `farcaster serve` runs the scheduler; any number of them may share a database.
 * Times are shown in each schedule's own timezone, with the offset.
 */
import { InputError, UsageError } from "../../core/errors.ts";
import { defaultDecider } from "../../services/gates.ts";
import { addSchedule, checkScheduleTiming, fireNow, scheduleLog, scheduleOverview, withNextFire } from "../../services/schedules.ts";
import type { ScheduleRecord } from "../../store/types.ts";
import { clip } from "../../view/text.ts";
import { commandWorkflows, intOption, withStore } from "../args.ts";
import { printGate } from "./gates.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";
import { table } from "../output.ts";

const SUBCOMMANDS = ["add", "list", "log", "pause", "resume", "rm", "run"] as const;

/** The options only some subcommands read: given to another, they would be ignored, so they are refused. */
const OPTIONS_OF: Record<string, readonly (typeof SUBCOMMANDS)[number][]> = {
  name: ["add"], cron: ["add"], tz: ["add"], overlap: ["add"], "catch-up": ["add"], plan: ["add"], freeze: ["add"],
  limit: ["log"],
};

/** `schedule list --cron …`: an option this subcommand does not read is a usage error naming the ones that do. */
function refuseForeignOptions(sub: (typeof SUBCOMMANDS)[number], values: Record<string, unknown>): void {
  const foreign = Object.keys(values).filter((name) => values[name] !== undefined && OPTIONS_OF[name] && !OPTIONS_OF[name]!.includes(sub));
  if (foreign.length === 0) return;
  const which = foreign.map((name) => `--${name} (schedule ${OPTIONS_OF[name]!.join(", ")})`).join(", ");
  throw new UsageError(`schedule ${sub} does not take ${which}`);
}

/** A decision's words fit in a table column; --json has them whole. */
const LAST_COLUMN_WIDTH = 60;

function describeTarget(schedule: ScheduleRecord): string {
  if (schedule.targetKind === "goal_file") return schedule.target;
  if (schedule.targetKind === "workplan") return `frozen plan (${(JSON.parse(schedule.target) as { tasks: unknown[] }).tasks.length} tasks)`;
  return `goal: ${schedule.target.split("\n")[0]!.slice(0, 40)}`;
}

/** The field a schedule check names, as the option of `schedule add` it comes from. */
const OPTION_OF_FIELD: Record<string, string> = { timezone: "--tz", "cron expression": "--cron", overlap: "--overlap", "catch-up": "--catch-up" };

export const scheduleCommand: Command = {
  name: "schedule",
  summary: "recurring plans on cron: add, list, log, pause, resume, rm, run",
  usage: "schedule add --name N --cron EXPR (GOAL.md | --plan PLAN.json | --freeze GOAL.md) | list | log N [--limit N] | pause N | resume N | rm N | run N",
  positionals: [
    { name: "SUBCOMMAND", what: "a subcommand (add, list, log, pause, resume, rm, run)" },
    { name: "NAME", what: "a schedule name (or, for add, a goal file)", optional: true, hint: "list schedules with `farcaster schedule list`" },
  ],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    name: { type: "string", valueName: "NAME", description: "the schedule's name (add)" },
    cron: { type: "string", valueName: "EXPR", description: 'cron expression, e.g. "0 9 * * 1-5"; a sixth field first means seconds (add)' },
    tz: { type: "string", valueName: "ZONE", description: "IANA timezone (default UTC) (add)" },
    overlap: { type: "string", valueName: "skip|allow|cancel-previous", description: "when the previous run is unfinished (default skip) (add)" },
    "catch-up": { type: "string", valueName: "latest|all|none", description: "missed slots after downtime (default latest) (add)" },
    plan: { type: "string", valueName: "PLAN.json", description: "run this workplan each time (add)" },
    freeze: { type: "string", valueName: "GOAL.md", description: "plan GOAL.md now and reuse that plan each time (add)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR" },
    limit: { type: "string", valueName: "N", description: "how many of the last events to show (log; default 20)" },
  },
  async run(context) {
    const [sub, arg] = context.positionals;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(`schedule needs a subcommand: ${SUBCOMMANDS.join(", ")} (see \`farcaster schedule --help\`)`);
    }
    refuseForeignOptions(sub as (typeof SUBCOMMANDS)[number], context.values);
    const actor = defaultDecider();
    const registry = await commandWorkflows(context);
    const limit = intOption(context, "limit", { min: 1, max: 10_000, fallback: 20 });
    if (sub !== "add" && sub !== "list" && !arg) throw new UsageError(`schedule ${sub} needs a schedule name: farcaster schedule ${sub} NAME (list schedules with \`farcaster schedule list\`)`);
    if (sub === "list" && arg !== undefined) throw new UsageError(`schedule list takes no name (got "${arg}")`);
    if (sub === "add") {
      const name = stringOption(context, "name");
      const cron = stringOption(context, "cron");
      if (!name || !cron) throw new UsageError('schedule add needs --name NAME and --cron EXPR, e.g. --name nightly --cron "0 3 * * *" goal.md');
      // Option values are usage mistakes (exit 2), checked before the database is opened, named as the options they came in.
      try {
        checkScheduleTiming({ cron, timezone: stringOption(context, "tz"), overlap: stringOption(context, "overlap"), catchUp: stringOption(context, "catch-up") });
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        throw new UsageError(error.message.replace(/^(timezone|cron expression|overlap|catch-up) /, (_, field: string) => `${OPTION_OF_FIELD[field]} `));
      }
    }
    // Only adding a schedule creates work (and so, if need be, the database); list and log only read.
    return withStore(context, sub === "add" ? "create" : sub === "list" || sub === "log" ? "read" : "existing", async (store) => {
      const out = context.output;
      switch (sub) {
        case "add": {
          const schedule = await addSchedule(store, registry, {
            name: stringOption(context, "name")!,
            cron: stringOption(context, "cron")!,
            timezone: stringOption(context, "tz"),
            overlap: stringOption(context, "overlap"),
            catchUp: stringOption(context, "catch-up"),
            goalFile: arg,
            planFile: stringOption(context, "plan"),
            freezeFile: stringOption(context, "freeze"),
            actor,
          });
          const shown = withNextFire(schedule, Date.now());
          const [gate] = schedule.approvalHash ? (await store.listGates({ pendingOnly: true })).filter((g) => g.scheduleId === schedule.id) : [];
          if (context.values.json) out.json({ schedule: shown, ...(gate ? { gate } : {}) });
          else if (gate) {
            out.out(`added schedule ${schedule.name} paused: a model wrote commands or agents into its frozen plan, and it runs nothing before a person approves exactly this plan`);
            printGate(out, gate, Date.now());
          } else out.out(`added schedule ${schedule.name}: ${schedule.cron} (${schedule.timezone}), next ${shown.nextFires[0] ?? "never"}; \`farcaster serve\` fires it`);
          return 0;
        }
        case "list": {
          const schedules = await scheduleOverview(store, Date.now());
          if (context.values.json) out.json({ schedules });
          else if (schedules.length === 0) out.out("no schedules; add one with `farcaster schedule add --name N --cron EXPR goal.md`");
          else {
            const rows = [["NAME", "CRON", "TZ", "NEXT", "LAST", "OVERLAP", "CATCH-UP", "STATE", "RUNS"]];
            for (const s of schedules) {
              const last = s.lastDecision ? clip(`${s.lastDecision.atLocal} ${s.lastDecision.summary}`, LAST_COLUMN_WIDTH) : "-";
              rows.push([s.name, s.cron, s.timezone, s.nextFires[0] ?? "-", last, s.overlap, s.catchUp, s.enabled ? "active" : s.approvalHash && s.approvedHash !== s.approvalHash ? "awaiting approval" : "paused", describeTarget(s)]);
            }
            for (const line of table(rows)) out.out(line);
          }
          return 0;
        }
        case "log": {
          const { schedule, decisions } = await scheduleLog(store, arg!, limit);
          if (context.values.json) out.json({ schedule: { id: schedule.id, name: schedule.name, timezone: schedule.timezone }, decisions });
          else if (decisions.length === 0) out.out(`schedule ${schedule.name} has no events`);
          else {
            const rows = [[`TIME (${schedule.timezone})`, "DECISION", "SLOT", "BY", "DETAIL"]];
            for (const d of decisions) rows.push([d.atLocal, d.decision, d.slotLocal ?? "-", d.actor, d.detail || "-"]);
            for (const line of table(rows)) out.out(line);
          }
          return 0;
        }
        case "pause":
        case "resume": {
          const schedule = await store.setScheduleEnabled(arg!, sub === "resume", actor);
          if (context.values.json) out.json({ schedule });
          else out.out(`schedule ${schedule.name} is ${schedule.enabled ? "active" : "paused"}`);
          return 0;
        }
        case "rm":
          await store.deleteSchedule(arg!, actor);
          if (context.values.json) out.json({ removed: arg });
          else out.out(`removed schedule ${arg}`);
          return 0;
        case "run": {
          const { schedule, result } = await fireNow(store, registry, arg!, actor);
          if (context.values.json) out.json(result);
          else if (result.outcome === "fired") out.out(`fired ${schedule.name}: run ${result.runId} (drones started with \`farcaster worker\` or \`serve --workers\` do the work)`);
          else {
            const message = `${schedule.name} did not fire: ${"detail" in result ? result.detail : result.outcome}`;
            if (result.outcome === "failed") out.err(message); // an error: on stderr, as every other
            else out.out(message);
          }
          return result.outcome === "fired" ? 0 : 1;
        }
      }
      return 0;
    });
  },
};
