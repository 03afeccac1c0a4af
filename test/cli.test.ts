import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { farcaster, REPO, runsOf, until, withReader } from "./cli-helpers.ts";
import { freshDir, openTestStore } from "./helpers.ts";

const INVENTORY = join(REPO, "examples", "inventory.json");

function goal(dir: string, name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

describe("the command line", () => {
  test("--help lists every command, and each command has its own --help", async () => {
    const help = await farcaster(["--help"]);
    expect(help.code).toBe(0);
    for (const name of ["run", "resume", "worker", "status", "inspect", "log", "gates", "approve", "reject", "cancel"]) expect(help.stdout).toContain(`  ${name}`);
    const status = await farcaster(["status", "--help"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("usage: farcaster status [RUN]");
    expect(status.stdout).toContain("--json");
    expect(status.stdout).toContain("--db PATH");
    expect((await farcaster(["help", "reject"])).stdout).toContain("--action retry|fail");
  });

  test("run --detach creates the run in .farcaster/farcaster.db under the current directory and shows its waves", async () => {
    const result = await farcaster(["run", INVENTORY, "--detach"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/run r[0-9a-z]{15}: 5 tasks in 3 waves, from .*inventory\.json/);
    expect(result.stdout).toContain("wave 2: typecheck");
    expect(result.stdout).not.toContain("\x1b["); // not a terminal: no escape codes
    const db = join(result.cwd, ".farcaster", "farcaster.db");
    const keys = await withReader(db, async (store) => (await store.listTasks((await store.listRuns())[0]!.id)).map((t) => t.key));
    expect(keys).toEqual(["@plan"]); // planned when a drone runs it
    const { runs } = JSON.parse((await farcaster(["status", "--json"], { cwd: result.cwd })).stdout);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: "planning", tasksTotal: 1, source: INVENTORY });
  });

  test("--db and FARCASTER_DB choose the database file", async () => {
    const dir = freshDir();
    const viaFlag = join(dir, "flag.db");
    const viaEnv = join(dir, "env.db");
    expect((await farcaster(["run", INVENTORY, "--detach", "--db", viaFlag])).code).toBe(0);
    expect((await farcaster(["run", INVENTORY, "--detach"], { db: viaEnv })).code).toBe(0);
    expect(await runsOf(viaFlag)).toHaveLength(1);
    expect(await runsOf(viaEnv)).toHaveLength(1);
  });

  describe("bad goal files: a clear error naming the file, exit 1, nothing written", () => {
    const cases: [string, string, string, string[]][] = [
      ["a missing file", "", "nope.md", ["goal file nope.md does not exist"]],
      ["an empty file", "  \n", "empty.md", ["goal file empty.md is empty"]],
      ["a plan with a cycle", "# g\n\n## a: A\nafter: b\nrun: true\n\n## b: B\nafter: a\nrun: true\n", "cycle.md", ["dependency cycle: a -> b -> a", "(cycle.md line 4)"]],
      ["an unknown workflow", "# g\n\n## a: A\nworkflow: shel\n", "unknown.md", ['task "a" names unknown workflow "shel"; known workflows: agent, noop, review, shell', "(unknown.md line 4)"]],
      ["bad JSON in input:", "# g\n\n## a: A\nworkflow: noop\ninput: {n: 1}\n", "input.md", ["input.md line 5: task \"a\": input: is not valid JSON"]],
      ["an input that fails the workflow's schema", "# g\n\n## a: A\nworkflow: shell\ninput: {\"command\": 42}\n", "schema.md", ['tasks[0].input.command (schema.md line 5): task "a" (workflow shell)', "expected string"]],
      ["a heading without an id", "# g\n\n## Build everything\nrun: make\n", "heading.md", ['heading.md line 3: a task heading is "## <id>: <title>"']],
      ["a task saying nothing about what runs it", "# g\n\n## a: A\nafter:\n", "nothing.md", ["say what runs it with run:, gate:, agent: or workflow:"]],
      ["bad JSON in a .json plan", '{"goal": "g", tasks: []}', "plan.json", ["plan.json: the JSON plan starting at line 1 is not valid JSON"]],
      ["fields with typos, each named with its line and the field meant", "# g\n\n## a: A\nrun: true\n\n## b: B\nafer: a\nRetries: 2\ntimout: 3s\nrun: true\n", "typos.md",
        ["typos.md line 7: unknown field `afer` in task \"b\" — did you mean `after`?", "typos.md line 8: unknown field `Retries` in task \"b\" — did you mean `retries`?", "typos.md line 9: unknown field `timout` in task \"b\" — did you mean `timeout`?", "3 problems"]],
      ["a cycle does not hide an unknown workflow or a bad input", "# g\n\n## a: A\nafter: b\nworkflow: shel\n\n## b: B\nafter: a\nworkflow: shell\ninput: {\"command\": 42}\n", "all.md",
        ["dependency cycle: a -> b -> a", 'task "a" names unknown workflow "shel"', 'task "b" (workflow shell)', "3 problems"]],
      ["a goal without a plan and no model", "# Write a haiku about leases\n", "haiku.md", ["haiku.md has no plan in it, and no model is configured", "set OPENAI_API_KEY", "write the plan into the goal file"]],
    ];
    for (const [name, text, file, messages] of cases) {
      test(name, async () => {
        const dir = freshDir();
        if (text) goal(dir, file, text);
        const result = await farcaster([file], { cwd: dir });
        expect(result.code).toBe(1);
        for (const message of messages) expect(result.stderr).toContain(message);
        expect(result.stdout).toBe("");
        expect(existsSync(join(dir, ".farcaster"))).toBe(false);
      });
    }
  });

  test("plan prints the DAG and its waves and writes nothing; --save writes a workplan that run accepts", async () => {
    const dir = freshDir();
    const site = join(REPO, "examples", "site", "goal.md");
    const plan = await farcaster(["plan", site], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("6 tasks in 4 waves");
    expect(plan.stdout).toContain("review: A person looks before anything is published  [review]");
    expect(plan.stdout).toContain("wave 2: pages-ok, links");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
    const saved = await farcaster(["plan", site, "--save", "plan.json", "--json"], { cwd: dir });
    expect(JSON.parse(saved.stdout)).toMatchObject({ writtenBy: "goal file", modelCalls: 0, waves: [["pages", "index"], ["pages-ok", "links"], ["review"], ["publish"]] });
    const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: dir });
    expect(created.code).toBe(0);
    const runId = JSON.parse(created.stdout).run.id;
    expect(existsSync(join(dir, ".farcaster", "farcaster.db"))).toBe(true);
    // The detached run is planned by the first drone; graph shows it after that.
    const db = join(dir, ".farcaster", "farcaster.db");
    const reader = openTestStore(db, { readOnly: true });
    const worker = Bun.spawn([process.execPath, join(REPO, "farcaster.ts"), "worker", "--quiet", "--db", db], { cwd: dir, stdout: "ignore" });
    try {
      await until(async () => (await reader.listTasks(runId)).some((t) => t.key === "publish"), 20_000, "planning");
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await reader.close();
    }
    const mermaid = await farcaster(["graph", runId], { cwd: dir });
    expect(mermaid.stdout).toContain("flowchart TD");
    // Nodes are numbered; task ids are only labels.
    const node = (key: string) => mermaid.stdout.match(new RegExp(`^  (n\\d+)\\["${key}#58; `, "m"))?.[1];
    expect(node("pages-ok")).toMatch(/^n\d+$/);
    expect(mermaid.stdout).toContain(`  ${node("links")} --> ${node("review")}`);
    expect(mermaid.stdout).toContain(`  ${node("pages-ok")} --> ${node("review")}`);
    const dot = await farcaster(["graph", runId, "--format", "dot"], { cwd: dir });
    expect(dot.stdout).toContain('"review" -> "publish";');
    expect((await farcaster(["graph", runId, "--format", "svg"], { cwd: dir })).code).toBe(2);
  });

  test("unknown commands and options exit 2 and point at --help", async () => {
    const unknown = await farcaster(["launch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
    const option = await farcaster(["status", "--bogus"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Unknown option '--bogus'");
    expect(option.stderr).toContain("farcaster status --help");
    const workers = await farcaster(["run", INVENTORY, "--workers", "zero"]);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toContain('--workers must be a whole number from 1 to 256 (got "zero")');
  });

  test("status of an unknown run exits 1 and says how to list runs", async () => {
    const created = await farcaster(["run", INVENTORY, "--detach"]);
    const result = await farcaster(["status", "rmissing"], { cwd: created.cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('run "rmissing" not found; list runs with `farcaster status`');
  });

  test("read commands never create a database: they say where they looked and exit 1", async () => {
    const dir = freshDir();
    for (const args of [["status"], ["gates"], ["log", "r1"], ["inspect", "r1/a"], ["approve", "g1"], ["resume", "r1"]]) {
      const result = await farcaster(args, { cwd: dir });
      expect(result.code).toBe(1);
      // The test preload's FARCASTER_CEILING_DIRECTORIES keeps the search below the tests' root.
      expect(result.stderr).toContain(`database ".farcaster/farcaster.db" not found; looked in ${dir} (not ${process.env.FARCASTER_TEST_DIR} or above`);
    }
    const json = await farcaster(["status", "--json"], { cwd: dir });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr).error.code).toBe("database_not_found");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("cancel stops a run, and log shows the events", async () => {
    const created = await farcaster(["run", INVENTORY, "--detach", "--json"]);
    const runId = JSON.parse(created.stdout).run.id;
    const cancelled = await farcaster(["cancel", runId, "--reason", "wrong branch"], { cwd: created.cwd });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`run ${runId} is cancelled`);
    const log = await farcaster(["log", runId], { cwd: created.cwd });
    expect(log.stdout).toContain("run.created by cli");
    expect(log.stdout).toContain("run.cancelled by");
    expect(log.stdout).toContain('"reason":"wrong branch"');
    const json = JSON.parse((await farcaster(["log", runId, "--json"], { cwd: created.cwd })).stdout);
    expect(json.events.map((e: { type: string }) => e.type)).toEqual(["run.created", "run.cancelled"]);
  });
});
