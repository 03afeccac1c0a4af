/**
 * Bad input at the command line's edges (found by a sweep of every command,
 * 2026-12-02): each is refused with one line naming the option, field or
 * file and the fix, a non-zero exit, and nothing written or changed.
 */
import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { locateIssues, parseGoalText } from "../src/architect/goalFile.ts";
import { farcaster, withReader } from "./cli-helpers.ts";
import { freshDir } from "./helpers.ts";

const PLAN = JSON.stringify({ version: 1, goal: "edges", tasks: [{ id: "a", title: "a", workflow: "noop", input: {} }] });

function expectRefused(result: { code: number; stdout: string; stderr: string }, code: number, message: string, tag: string): void {
  expect(result.code).toBe(code);
  const first = result.stderr.trimEnd().split("\n")[0]!;
  expect(first).toContain(message);
  expect(first).toEndWith(`[${tag}]`);
  expect(result.stderr).not.toContain("    at "); // no stack trace
}

let project = "";
let db = "";
let runId = "";
beforeAll(async () => {
  project = freshDir();
  db = join(project, ".farcaster", "farcaster.db");
  writeFileSync(join(project, "plan.json"), PLAN);
  const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: project });
  runId = JSON.parse(created.stdout).run.id;
});

describe("options are checked before anything is written", () => {
  test("resume with a bad --workers leaves a cancelled run cancelled (it used to reopen it with nobody to drive it)", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    const { stdout } = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: dir });
    const id = JSON.parse(stdout).run.id as string;
    expect((await farcaster(["cancel", id, "--reason", "test"], { cwd: dir })).code).toBe(0);
    const resumed = await farcaster(["resume", id, "-w", "abc"], { cwd: dir });
    expectRefused(resumed, 2, '--workers must be a whole number', "usage");
    expect(resumed.stdout).toBe("");
    const state = await withReader(join(dir, ".farcaster", "farcaster.db"), async (store) => ({
      run: (await store.getRun(id)).state,
      resumed: (await store.listEvents({ runId: id })).filter((event) => event.type === "run.resumed").length,
    }));
    expect(state).toEqual({ run: "cancelled", resumed: 0 });
  });

  test("a lease shorter than a second is refused: it would expire between heartbeats and fail every task for good", async () => {
    expectRefused(await farcaster(["worker", "--lease", "1ms"], { cwd: project }), 2, '--lease must be at least 1s: its heartbeat runs every third of it', "usage");
    expectRefused(await farcaster(["worker", "--lease", "999ms"], { cwd: project }), 2, '(got "999ms")', "usage");
  });

  test("run --detach --yes is refused before a database is made: nobody in this process would approve the plan", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    expectRefused(await farcaster(["run", "plan.json", "--detach", "--yes"], { cwd: dir }), 2, "--yes approves the plan from this process, and --detach leaves it to drones elsewhere", "usage");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("run --detach on a goal file with an unfinished run says it resumes it, and not that it created one", async () => {
    const again = await farcaster(["run", "plan.json", "--detach"], { cwd: project });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already has an unfinished run, ${runId}`);
    expect(again.stdout).not.toContain("created");
    expect(again.stdout).toContain("start drones with `farcaster worker`");
  });
});

describe("who acts and why", () => {
  test("a blank --by, --id or --reason is refused instead of recorded as nobody (or as an empty reason)", async () => {
    expectRefused(await farcaster(["approve", "g-none", "--by", ""], { cwd: project }), 1, "by must name who acts: 1 to 200 characters, not only spaces", "bad_input");
    expectRefused(await farcaster(["reject", "g-none", "--reason", "no", "--by", "   "], { cwd: project }), 1, "by must name who acts", "bad_input");
    expectRefused(await farcaster(["emit", "who", "--by", " "], { cwd: project }), 1, "by must name who acts", "bad_input");
    expectRefused(await farcaster(["cancel", runId, "--reason", "  "], { cwd: project }), 2, "--reason needs the text of why", "usage");
    expectRefused(await farcaster(["reject", "g-none", "--reason", "x".repeat(16_001)], { cwd: project }), 1, "reason must be at most 16,000 characters", "bad_input");
    expectRefused(await farcaster(["worker", "--id", ""], { cwd: project }), 2, "--id needs a name for this drone", "usage");
    expect(await withReader(db, async (store) => ({ run: (await store.getRun(runId)).state, signal: await store.getSignal("who") }))).toEqual({ run: "planning", signal: null });
  });
});

describe("schedule add", () => {
  test("option values are usage mistakes (exit 2) naming the option, checked before a database is made; a cron no date matches is one", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    const add = (...args: string[]) => farcaster(["schedule", "add", "--name", "n1", "--plan", "plan.json", ...args], { cwd: dir });
    expectRefused(await add("--cron", "0 9 31 2 *"), 2, '--cron "0 9 31 2 *" never matches a date', "usage");
    const bad = await add("--cron", "bad cron");
    expectRefused(bad, 2, '--cron "bad cron" is invalid: invalid configuration format', "usage");
    expect(bad.stderr).not.toContain("CronPattern");
    expectRefused(await add("--cron", "* * * * *", "--tz", "Mars/Base"), 2, '--tz "Mars/Base" is not an IANA timezone', "usage");
    expectRefused(await add("--cron", "* * * * *", "--overlap", "sometimes"), 2, '--overlap must be one of skip, allow, cancel-previous (got "sometimes")', "usage");
    expectRefused(await add("--cron", "* * * * *", "--catch-up", "x"), 2, '--catch-up must be one of latest, all, none (got "x")', "usage");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });

  test("a manual fire that fails (its goal file is gone) says so on stderr with exit 1", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# Edges\n\n## a: A\n\nworkflow: noop\n");
    expect((await farcaster(["schedule", "add", "--name", "n5", "--cron", "0 3 * * *", "goal.md"], { cwd: dir })).code).toBe(0);
    rmSync(join(dir, "goal.md"));
    const fired = await farcaster(["schedule", "run", "n5"], { cwd: dir });
    expect(fired.code).toBe(1);
    expect(fired.stdout).toBe("");
    expect(fired.stderr).toContain("n5 did not fire: ");
  });
});

describe("schedule subcommands", () => {
  test("an option another subcommand reads is refused naming where it belongs, instead of ignored", async () => {
    expectRefused(await farcaster(["schedule", "list", "--cron", "* * * * *", "--tz", "UTC"], { cwd: project }), 2, "schedule list does not take --cron (schedule add), --tz (schedule add)", "usage");
    expectRefused(await farcaster(["schedule", "pause", "nightly", "--limit", "5"], { cwd: project }), 2, "schedule pause does not take --limit (schedule log)", "usage");
    expect((await farcaster(["schedule", "list"], { cwd: project })).code).toBe(0);
  });
});

describe("plan --save", () => {
  test("never over the goal file it plans, nor into a directory, a missing directory or an empty name", async () => {
    const dir = freshDir();
    const goal = "# Edges\n\n## a: A\n\nworkflow: noop\n";
    writeFileSync(join(dir, "goal.md"), goal);
    mkdirSync(join(dir, "plans"));
    expectRefused(await farcaster(["plan", "goal.md", "--save", "./goal.md"], { cwd: dir }), 2, "--save ./goal.md would replace the goal file it plans", "usage");
    expect(readFileSync(join(dir, "goal.md"), "utf8")).toBe(goal);
    expectRefused(await farcaster(["plan", "goal.md", "--save", "plans"], { cwd: dir }), 2, "--save plans: that is a directory; name a file in it, such as plans/plan.json", "usage");
    expectRefused(await farcaster(["plan", "goal.md", "--save", "nowhere/p.json"], { cwd: dir }), 2, `the directory ${join(dir, "nowhere")} does not exist`, "usage");
    expectRefused(await farcaster(["plan", "goal.md", "--save", ""], { cwd: dir }), 2, "--save needs a file name", "usage");
    const saved = await farcaster(["plan", "goal.md", "--save", "plans/p.json"], { cwd: dir });
    expect(saved.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "plans", "p.json"), "utf8")).tasks[0].id).toBe("a");
    expect(readdirSync(join(dir, "plans"))).toEqual(["p.json"]); // no temporary file left beside it
  });
});

describe("numbers JSON cannot hold", () => {
  test("emit --data with 1e999 is refused naming where it is, and no signal is stored (it used to be stored as null)", async () => {
    expectRefused(await farcaster(["emit", "big", "--data", '{"a":[1,1e999]}'], { cwd: project }), 1, "data.a[1] is a number JSON cannot hold", "bad_input");
    expectRefused(await farcaster(["emit", "big", "--data=-1e999"], { cwd: project }), 1, "data is a number JSON cannot hold", "bad_input");
    expect(await withReader(db, (store) => store.getSignal("big"))).toBeNull();
  });

  test("a task input with 1e999 makes the plan invalid, naming the field", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), JSON.stringify({ version: 1, goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", input: {} }] }).replace("{}", '{"n":{"m":1e999}}'));
    const result = await farcaster(["run", "plan.json", "--detach"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("tasks[0].input.n.m: this is a number JSON cannot hold");
    expect(existsSync(join(dir, ".farcaster"))).toBe(false);
  });
});

describe("goal files", () => {
  test("a goal file that is not UTF-8 is refused naming the line, instead of planned with U+FFFD in its goal; UTF-8 with a BOM is read", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "latin1.md"), Buffer.concat([Buffer.from("# Goal\n\nline three "), Buffer.from([0xff, 0xfe]), Buffer.from(" here\n")]));
    const refused = await farcaster(["plan", "latin1.md"], { cwd: dir });
    expectRefused(refused, 1, "goal file latin1.md is not UTF-8 text (line 3, byte 19); save it as UTF-8", "bad_input");
    writeFileSync(join(dir, "bom.md"), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("# Grüße\n\n## a: A\n\nworkflow: noop\n")]));
    const read = await farcaster(["plan", "bom.md", "--json"], { cwd: dir });
    expect(read.code).toBe(0);
    expect(JSON.parse(read.stdout).plan.goal).toBe("Grüße");
  });
});

describe("zero timeouts", () => {
  test("a task timeout of 0 and a review gate timeout of 0 make the plan invalid (each failed its task as it started)", async () => {
    const dir = freshDir();
    const plan = (task: object) => JSON.stringify({ version: 1, goal: "g", tasks: [{ id: "a", title: "a", ...task }] });
    writeFileSync(join(dir, "task.json"), plan({ workflow: "noop", input: {}, timeout: "0s" }));
    writeFileSync(join(dir, "gate.json"), plan({ workflow: "review", input: { question: "ok?", timeout: 0 } }));
    const task = await farcaster(["plan", "task.json"], { cwd: dir });
    expect(task.code).toBe(1);
    expect(task.stderr).toContain('tasks[0].timeout: expected a duration longer than 0, such as "30s" or "5m" (leave it out for none); got "0s"');
    const gate = await farcaster(["plan", "gate.json"], { cwd: dir });
    expect(gate.code).toBe(1);
    expect(gate.stderr).toContain("expected a duration longer than 0, such as 30m or 2h");
    writeFileSync(join(dir, "fine.json"), plan({ workflow: "review", input: { question: "ok?", timeout: "1h" }, timeout: "2h" }));
    expect((await farcaster(["plan", "fine.json"], { cwd: dir })).code).toBe(0);
  });

  test("a line that adds to what an earlier one made (commands: joins the scope writes: opened) is the line its problems name", () => {
    const file = parseGoalText("# g\n\n## a: A\nagent: do it\nwrites: src/**\ncommands: ls\n", "scope.md");
    const located = locateIssues(file, [
      { path: "tasks[0].scope.commands[0]", message: "x" },
      { path: "tasks[0].scope.writes[0]", message: "x" },
      { path: "tasks[0].input.instructions", message: "x" },
      { path: "tasks[0]", message: "x" },
    ]).map((issue) => issue.path);
    expect(located).toEqual([
      "tasks[0].scope.commands[0] (scope.md line 6)",
      "tasks[0].scope.writes[0] (scope.md line 5)",
      "tasks[0].input.instructions (scope.md line 4)",
      "tasks[0] (scope.md line 3)",
    ]);
  });

  test("in a goal file, a field's problem names the field's own line, not its task's heading", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), "# g\n\n## a: A\nrun: echo\nafter: zz\n\n## b: B\nrun: echo\ntimeout: 0s\nretries: 500\n");
    const result = await farcaster(["plan", "goal.md"], { cwd: dir });
    expect(result.code).toBe(1);
    for (const line of ["tasks[0].after[0] (goal.md line 5): unknown task \"zz\"", "tasks[1].timeout (goal.md line 9):", "tasks[1].retries (goal.md line 10): must be a whole number from 0 to 100"]) expect(result.stderr).toContain(line);
    // A fraction says the range, as in a JSON plan.
    writeFileSync(join(dir, "scope.md"), "# g\n\n## a: A\nagent: do it\nwrites: src/**\ncommands: ls\nretries: 1.5\n");
    const scoped = await farcaster(["plan", "scope.md"], { cwd: dir });
    expect(scoped.code).toBe(1);
    expect(scoped.stderr).toContain("tasks[0].retries (scope.md line 7): must be a whole number from 0 to 100");
    writeFileSync(join(dir, "plan.json"), JSON.stringify({ goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", retries: 1.5, priority: "high" }] }));
    const plan = await farcaster(["plan", "plan.json"], { cwd: dir });
    expect(plan.stderr).toContain("tasks[0].retries: must be a whole number from 0 to 100");
    expect(plan.stderr).toContain("tasks[0].priority: must be a whole number from -1000 to 1000");
  });
});

describe("--db names a database Farcaster can use", () => {
  test("a URL of another scheme is refused, not made into a file named after it (a typo of postgres:// included)", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    expectRefused(await farcaster(["run", "plan.json", "--detach", "--db", "mysql://u:secret@x/db"], { cwd: dir }), 2, "--db mysql://u:***@x/db: only postgres:// (or postgresql://) URLs and file paths are supported", "usage");
    expectRefused(await farcaster(["status", "--db", "postgress://x/db"], { cwd: dir }), 2, "--db postgress://x/db: only postgres://", "usage");
    expectRefused(await farcaster(["status"], { cwd: dir, env: { FARCASTER_DB: "sqlite://x.db" } }), 2, "FARCASTER_DB sqlite://x.db: only postgres://", "usage");
    expectRefused(await farcaster(["status", "--db", ""], { cwd: dir }), 2, "--db needs a database file or a postgres:// URL", "usage");
    expect(readdirSync(dir)).toEqual(["plan.json"]);
  });

  test("a file that is not a usable database is named with the fix, by writers and readers alike, and left as it was", async () => {
    const dir = freshDir();
    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, Buffer.alloc(4096, 0x5a));
    const damaged = join(dir, "damaged.db");
    writeFileSync(damaged, readFileSync(db).subarray(0, 6000)); // a real database cut short
    mkdirSync(join(dir, "adir.db"));
    const other = join(dir, "other.db");
    const foreign = new Database(other);
    foreign.run("CREATE TABLE runs (x)");
    foreign.close();
    const cases: [string, string][] = [
      [garbage, "is not a SQLite database; point --db (or FARCASTER_DB) at a Farcaster database, or at a new file name"],
      [damaged, "is damaged"],
      [join(dir, "adir.db"), "(not a directory)"],
      [other, "holds another program's tables (runs) and none of Farcaster's"],
    ];
    for (const [path, problem] of cases) {
      expectRefused(await farcaster(["emit", "e1", "--db", path], { cwd: dir }), 1, `database ${path} `, "database_unusable");
      const read = await farcaster(["status", "--db", path], { cwd: dir });
      expectRefused(read, 1, `database ${path} `, "database_unusable");
      expect(read.stderr).toContain(problem.replace("(not a directory)", "directory"));
    }
    const check = new Database(other, { readonly: true });
    try {
      expect(check.query("SELECT name FROM sqlite_schema").all()).toEqual([{ name: "runs" }]);
      expect(check.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "delete" });
    } finally {
      check.close();
    }
    expect(readFileSync(garbage)).toEqual(Buffer.alloc(4096, 0x5a));
  });
});

describe("arguments that are there but say nothing", () => {
  test("a negative number is named by its option's own check, not as an \"ambiguous\" argument in three lines", async () => {
    for (const [args, message] of [
      [["worker", "-c", "-1"], '--concurrency must be a whole number from 1 to 1024 (got "-1")'],
      [["status", "--limit", "-3"], '--limit must be a whole number from 1 to 100000 (got "-3")'],
      [["worker", "--lease", "-5s"], '(got "-5s")'],
    ] as const) {
      const result = await farcaster([...args], { cwd: project });
      expectRefused(result, 2, message, "usage");
      expect(result.stderr).not.toContain("ambiguous");
    }
  });

  test("an empty id (an unset variable: status \"$RUN\") is a usage error, not a list of everything or a lookup of nothing", async () => {
    for (const [args, message] of [
      [["status", ""], "status: RUN is empty; give a run id (list runs with `farcaster status`)"],
      [["gates", " "], "gates: RUN is empty; give a run id"],
      [["cancel", ""], "cancel: RUN is empty; give a run id"],
      [["approve", ""], "approve: GATE is empty; give a gate id"],
      [["logs", ""], "logs: RUN/TASK is empty"],
    ] as const) {
      const result = await farcaster([...args], { cwd: project });
      expectRefused(result, 2, message, "usage");
      expect({ args, stdout: result.stdout }).toEqual({ args, stdout: "" });
    }
  });

  test("a task a run does not have is task_not_found naming where to list the run's tasks (a run that is not there: see cli-args)", async () => {
    expectRefused(await farcaster(["inspect", `${runId}/nope`], { cwd: project }), 1, `task "${runId}/nope" not found`, "task_not_found");
  });
});

describe("workflow files", () => {
  test("--workflows naming a file says it takes a directory; one that is missing says so", async () => {
    writeFileSync(join(project, "one.ts"), "export const x = 1;\n");
    expectRefused(await farcaster(["worker", "--workflows", "one.ts"], { cwd: project }), 1, `${join(project, "one.ts")} is a file, not a directory; --workflows (and FARCASTER_WORKFLOWS) take the directory`, "workflow_load_failed");
    expectRefused(await farcaster(["worker", "--workflows", "nowhere"], { cwd: project }), 1, `workflow directory ${join(project, "nowhere")} does not exist`, "workflow_load_failed");
  });

  test("a workflow file with a syntax error is named with its line and column and the line itself", async () => {
    const dir = join(freshDir(), "flows");
    mkdirSync(dir);
    writeFileSync(join(dir, "broken.ts"), 'export const broken = {\n  name: "broken",\n  run() { return 1 +; },\n};\n');
    const result = await farcaster(["worker", "--workflows", dir], { cwd: project });
    expectRefused(result, 1, `could not load workflow file ${join(dir, "broken.ts")} line 3, column 21: Unexpected ; (in \`run() { return 1 +; },\`)`, "workflow_load_failed");
  });
});
