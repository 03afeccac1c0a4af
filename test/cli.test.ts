import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshDir } from "./helpers.ts";

const ENTRY = join(import.meta.dir, "..", "farcaster.ts");
const EXAMPLE = join(import.meta.dir, "..", "examples", "inventory.json");

async function farcaster(args: string[], options: { cwd?: string; db?: string } = {}) {
  const cwd = options.cwd ?? freshDir();
  const env: Record<string, string> = { ...process.env } as Record<string, string>;
  if (options.db) env.FARCASTER_DB = options.db;
  else delete env.FARCASTER_DB;
  const proc = Bun.spawn([process.execPath, ENTRY, ...args], { cwd, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code, cwd };
}

function rows(db: string, table: string): number {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()!.n;
  } finally {
    conn.close();
  }
}

describe("the command line", () => {
  test("--help lists every command, and each command has its own --help", async () => {
    const help = await farcaster(["--help"]);
    expect(help.code).toBe(0);
    for (const name of ["run", "status", "log", "cancel"]) expect(help.stdout).toContain(`  ${name}`);
    const status = await farcaster(["status", "--help"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("usage: farcaster status [RUN]");
    expect(status.stdout).toContain("--json");
    expect(status.stdout).toContain("--db PATH");
  });

  test("a workplan file creates a run in .farcaster/farcaster.db under the current directory and shows it", async () => {
    const result = await farcaster([EXAMPLE]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/created run r[0-9a-z]{15} from .*inventory\.json: 5 tasks in 3 waves/);
    expect(result.stdout).toContain("wave 2: typecheck");
    expect(result.stdout).not.toContain("\x1b["); // not a terminal: no escape codes
    const db = join(result.cwd, ".farcaster", "farcaster.db");
    expect(rows(db, "tasks")).toBe(5);
    const status = await farcaster(["status", "--json"], { cwd: result.cwd });
    const { runs } = JSON.parse(status.stdout);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: "running", tasksTotal: 5 });
    const one = JSON.parse((await farcaster(["status", runs[0].id, "--json"], { cwd: result.cwd })).stdout);
    expect(one.tasks.map((t: { key: string; state: string }) => `${t.key}:${t.state}`)).toContain("count-source:ready");
  });

  test("--db and FARCASTER_DB choose the database file", async () => {
    const dir = freshDir();
    const viaFlag = join(dir, "flag.db");
    const viaEnv = join(dir, "env.db");
    expect((await farcaster(["run", EXAMPLE, "--db", viaFlag])).code).toBe(0);
    expect((await farcaster(["run", EXAMPLE], { db: viaEnv })).code).toBe(0);
    expect(rows(viaFlag, "runs")).toBe(1);
    expect(rows(viaEnv, "runs")).toBe(1);
  });

  test("a plan with a cycle fails with the cycle's path, exit 1, and nothing written", async () => {
    const dir = freshDir();
    const file = join(dir, "cycle.json");
    writeFileSync(file, JSON.stringify({ goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", after: ["b"] }, { id: "b", title: "B", workflow: "noop", after: ["a"] }] }));
    const result = await farcaster(["run", file], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`workplan in ${file} is invalid`);
    expect(result.stderr).toContain("dependency cycle: a -> b -> a");
    expect(result.stderr).toContain("[plan_invalid]");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("an unknown workflow and an input that fails its workflow's schema name the task and the field; nothing is written", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), JSON.stringify({
      goal: "g",
      tasks: [
        { id: "build", title: "Build", workflow: "shel", input: { command: "make" } },
        { id: "lint", title: "Lint", workflow: "shell", input: { command: 42 } },
      ],
    }));
    const result = await farcaster(["run", "plan.json"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('tasks[0].workflow: task "build" names unknown workflow "shel"; known workflows: noop, review, shell');
    expect(result.stderr).toMatch(/tasks\[1\]\.input\.command: task "lint" \(workflow shell\): .*expected string, received number/);
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("a missing file, an empty file and bad JSON are each a clear error naming the file", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "empty.json"), "  \n");
    writeFileSync(join(dir, "bad.json"), '{"goal": "g", tasks: []}');
    const missing = await farcaster(["run", "nope.json"], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("plan file nope.json does not exist");
    const empty = await farcaster(["run", "empty.json"], { cwd: dir });
    expect(empty.stderr).toContain("plan file empty.json is empty");
    const bad = await farcaster(["run", "bad.json"], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("plan file bad.json is not valid JSON");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("unknown commands and options exit 2 and point at --help", async () => {
    const unknown = await farcaster(["launch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
    const option = await farcaster(["status", "--bogus"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Unknown option '--bogus'");
    expect(option.stderr).toContain("farcaster status --help");
  });

  test("status and cancel of an unknown run exit 1 and say how to list runs", async () => {
    const result = await farcaster(["status", "rmissing"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('run "rmissing" not found; list runs with `farcaster status`');
  });

  test("cancel stops a run, and log shows the events", async () => {
    const created = await farcaster([EXAMPLE, "--json"]);
    const runId = JSON.parse(created.stdout).run.id;
    const cancelled = await farcaster(["cancel", runId, "--reason", "wrong branch"], { cwd: created.cwd });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`run ${runId} is cancelled`);
    const log = await farcaster(["log", runId], { cwd: created.cwd });
    expect(log.stdout).toContain("run.created by cli");
    expect(log.stdout).toContain('run.cancelled by');
    expect(log.stdout).toContain('"reason":"wrong branch"');
    const json = JSON.parse((await farcaster(["log", runId, "--json"], { cwd: created.cwd })).stdout);
    expect(json.events.map((e: { type: string }) => e.type)).toEqual(["run.created", "run.cancelled"]);
  });
});
