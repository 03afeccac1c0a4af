/**
 * The command line, checked the same way for every command: a value that is
 * not what an option takes, a missing or an extra positional argument, bad
 * --data JSON: exit 2 with the usage line. An unknown id: exit 1, "not
 * found" and the command that lists them. With --json, every error is one
 * JSON object on stderr, with the same exit code.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../src/cli/main.ts";
import { farcaster } from "./cli-helpers.ts";
import { freshDir } from "./helpers.ts";

const PLAN = JSON.stringify({ version: 1, goal: "args", tasks: [{ id: "a", title: "a", workflow: "noop", input: {} }] });

/** A directory with a database holding one run. */
let project = "";
let runId = "";
beforeAll(async () => {
  project = freshDir();
  writeFileSync(join(project, "plan.json"), PLAN);
  const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: project });
  runId = JSON.parse(created.stdout).run.id;
});

function expectUsage(result: { code: number; stdout: string; stderr: string }, message: string, usage: string): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines[0]).toContain(message);
  expect(lines[0]).toEndWith("[usage]");
  expect(lines).toContain(`usage: farcaster ${usage}`);
}

describe("command-line mistakes exit 2 with the usage line", () => {
  test("an option value that is not what the option takes", async () => {
    expectUsage(await farcaster(["status", "--limit", "abc"], { cwd: project }), '--limit must be a whole number from 1 to 100000 (got "abc")', "status [RUN] [--limit N]");
    expectUsage(await farcaster(["status", "--limit", "0"], { cwd: project }), '--limit must be a whole number from 1 to 100000 (got "0")', "status [RUN] [--limit N]");
    expectUsage(await farcaster(["worker", "--lease", "soon"], { cwd: project }), '--lease must be a duration such as 500ms, 30s or 2m, at most 3650d (got "soon")', "worker [--concurrency N] [--lease DURATION]");
    expectUsage(await farcaster(["graph", runId, "--format", "png"], { cwd: project }), '--format is mermaid or dot (got "png")', "graph RUN [--format mermaid|dot] [--json]");
  });

  test("the usage line names the option the mistake is in, also when the command's usual line does not show it", async () => {
    expectUsage(await farcaster(["worker", "--lease", "4000d"], { cwd: project }), '--lease must be a duration such as 500ms, 30s or 2m, at most 3650d (got "4000d")', "worker [--concurrency N] [--lease DURATION]");
    expectUsage(await farcaster(["worker", "--grace", "0s"], { cwd: project }), '--grace must be a duration', "worker [--concurrency N] [--grace DURATION]");
    expectUsage(await farcaster(["worker", "--concurrency", "0"], { cwd: project }), "--concurrency must be a whole number from 1 to 1024", "worker [--concurrency N]");
    const json = await farcaster(["run", "plan.json", "--workers", "many", "--json"], { cwd: project });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr).error.usage).toBe("farcaster run GOAL.md [--workers N]");
  });

  test("--limit is honoured when it is a number", async () => {
    writeFileSync(join(project, "plan.json"), PLAN);
    await farcaster(["run", "plan.json", "--detach", "--new"], { cwd: project });
    const one = JSON.parse((await farcaster(["status", "--json", "--limit", "1"], { cwd: project })).stdout);
    expect(one.runs).toHaveLength(1);
  });

  test("an extra positional argument is refused, not ignored", async () => {
    expectUsage(await farcaster(["approve", "a", "b"], { cwd: project }), 'approve takes one argument (GATE); unexpected "b"', "approve GATE [--by NAME]");
    expectUsage(await farcaster(["plan", "goal.md", "extra.md"], { cwd: project }), 'plan takes one argument (GOAL.md); unexpected "extra.md"', "plan GOAL.md [--save PLAN.json]");
    expectUsage(await farcaster(["plan.json", "extra.md"], { cwd: project }), 'run takes one argument (GOAL.md); unexpected "extra.md"', "run GOAL.md");
    expectUsage(await farcaster(["worker", "now"], { cwd: project }), 'worker takes no arguments; unexpected "now"', "worker [--concurrency N]");
    const schedule = COMMANDS.find((command) => command.name === "schedule")!;
    expectUsage(await farcaster(["schedule", "list", "nightly"], { cwd: project }), 'schedule list takes no name (got "nightly")', schedule.usage);
    expectUsage(await farcaster(["status", runId, "x", "y"], { cwd: project }), 'status takes one argument (RUN); unexpected "x", "y"', "status [RUN] [--limit N]");
  });

  test("a missing positional argument names what is missing and where to find one", async () => {
    expectUsage(await farcaster(["cancel"], { cwd: project }), "cancel needs a run id (list runs with `farcaster status`)", "cancel RUN [--reason TEXT]");
    expectUsage(await farcaster(["approve"], { cwd: project }), "approve needs a gate id (list pending gates with `farcaster gates`)", "approve GATE [--by NAME]");
    expectUsage(await farcaster(["inspect"], { cwd: project }), "inspect needs a task (RUN/TASK or its number)", "inspect RUN/TASK");
  });

  test("invalid --data JSON", async () => {
    expectUsage(await farcaster(["emit", "deployed", "--data", "{bad"], { cwd: project }), "--data is not valid JSON", "emit EVENT [--data JSON]");
  });

  test("an event name that cannot be one, before any database is looked for", async () => {
    expectUsage(await farcaster(["emit", "bad name"], { cwd: project }), 'event name "bad name" is not valid: 1-200 letters, digits and _ . : / -', "emit EVENT [--data JSON]");
    // Refused as a usage mistake even where no database is found (that would be exit 1).
    expectUsage(await farcaster(["emit", "deploy!"], { cwd: freshDir() }), 'event name "deploy!" is not valid', "emit EVENT [--data JSON]");
  });

  test("every command declares its positionals, and one more than it takes is refused before anything runs", async () => {
    for (const command of COMMANDS) {
      const args = [command.name, ...command.positionals.map((spec) => (spec.name === "SUBCOMMAND" ? "list" : "x")), "extra"];
      const result = await farcaster(args, { cwd: freshDir() });
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(`usage: farcaster ${command.usage}`);
    }
  }, 60_000);
});

describe("unknown ids exit 1 with not found and where to list them", () => {
  const cases: [string[], string][] = [
    [["gates", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["status", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["graph", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["log", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["cancel", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["resume", "nope"], 'run "nope" not found; list runs with `farcaster status`'],
    [["approve", "nope"], 'gate "nope" not found; list pending gates with `farcaster gates`'],
    [["reject", "nope", "--reason", "no"], 'gate "nope" not found; list pending gates with `farcaster gates`'],
    [["inspect", "nope/a"], 'run "nope" not found; list runs with `farcaster status`'], // the run is what is missing, not its task
    [["logs", "999999"], 'task "999999" not found; list a run\'s tasks with `farcaster status RUN`'],
    [["schedule", "rm", "nope"], 'schedule "nope" not found; list schedules with `farcaster schedule list`'],
  ];
  for (const [args, message] of cases) {
    test(`farcaster ${args.join(" ")}`, async () => {
      const result = await farcaster(args, { cwd: project });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(message);
    });
  }
});

describe("--json errors", () => {
  test("an error is one JSON object on stderr, and the exit code does not change", async () => {
    const usage = await farcaster(["status", "--limit", "abc", "--json"], { cwd: project });
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe("");
    expect(JSON.parse(usage.stderr)).toEqual({ error: { code: "usage", message: '--limit must be a whole number from 1 to 100000 (got "abc")', usage: "farcaster status [RUN] [--limit N]" } });

    const unknownOption = await farcaster(["gates", "--json", "--bogus"], { cwd: project });
    expect(unknownOption.code).toBe(2);
    expect(JSON.parse(unknownOption.stderr).error).toMatchObject({ code: "usage", message: "Unknown option '--bogus'" });

    const missing = await farcaster(["approve", "nope", "--json"], { cwd: project });
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: "gate_not_found", message: 'gate "nope" not found; list pending gates with `farcaster gates`' } });

    const badData = await farcaster(["emit", "x", "--data", "[1,", "--json"], { cwd: project });
    expect(badData.code).toBe(2);
    expect(JSON.parse(badData.stderr).error.code).toBe("usage");
  });

  test("without --json an error is one plain line, without a stack trace", async () => {
    const result = await farcaster(["gates", "nope"], { cwd: project });
    expect(result.stderr).toBe('farcaster: run "nope" not found; list runs with `farcaster status` [run_not_found]\n');
  });
});
