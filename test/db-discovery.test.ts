/**
 * Finding the database as git finds .git: without --db / FARCASTER_DB, the
 * nearest .farcaster/farcaster.db in the current directory or above it.
 * Only commands that create work may create one; the others say where they
 * looked and exit 1.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { locateDatabase } from "../src/store/index.ts";
import { ENTRY, farcaster, spawnFarcaster, until } from "./cli-helpers.ts";
import { freshDir } from "./helpers.ts";

const PLAN = JSON.stringify({ version: 1, goal: "discovery", tasks: [{ id: "wait", title: "wait for deploy", workflow: "noop", input: {} }] });

/** A project directory with a database holding one detached run, and a subdirectory two levels down. */
async function project() {
  const root = freshDir();
  writeFileSync(join(root, "plan.json"), PLAN);
  const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: root });
  expect(created.code).toBe(0);
  const runId = JSON.parse(created.stdout).run.id as string;
  const sub = join(root, "src", "deep");
  mkdirSync(sub, { recursive: true });
  return { root, sub, runId, db: join(root, ".farcaster", "farcaster.db") };
}

describe("finding the database", () => {
  test("from a subdirectory, status finds the database above and says which file it uses", async () => {
    const { sub, runId, db } = await project();
    const status = await farcaster(["status"], { cwd: sub });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(runId);
    expect(status.stderr).toBe(`farcaster: using ${db} (found in ${join(sub, "..", "..")}, above the current directory)\n`);

    const json = await farcaster(["status", "--json"], { cwd: sub });
    expect(JSON.parse(json.stdout).runs.map((run: { id: string }) => run.id)).toEqual([runId]);
    expect(JSON.parse(json.stderr)).toEqual({ database: { path: db, foundIn: join(sub, "..", "..") } });
    expect(existsSync(join(sub, ".farcaster"))).toBe(false);
  });

  test("in the directory that holds the database nothing is said about it", async () => {
    const { root, runId } = await project();
    const status = await farcaster(["status", runId], { cwd: root });
    expect(status.code).toBe(0);
    expect(status.stderr).toBe("");
  });

  test("commands run in a subdirectory write to the database found above, not to a new one", async () => {
    const { sub, db } = await project();
    const emit = await farcaster(["emit", "deployed", "--json"], { cwd: sub });
    expect(emit.code).toBe(0);
    expect(JSON.parse(emit.stdout).created).toBe(true);
    writeFileSync(join(sub, "plan.json"), PLAN);
    const again = await farcaster(["run", "plan.json", "--detach", "--new"], { cwd: sub });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`using ${db}`);
    expect(existsSync(join(sub, ".farcaster"))).toBe(false);
    const runs = JSON.parse((await farcaster(["status", "--json"], { cwd: sub })).stdout).runs;
    expect(runs).toHaveLength(2);
  });

  test("without a database, every command that does not create work says where it looked and exits 1, creating nothing", async () => {
    const top = freshDir();
    const dir = join(top, "a", "b");
    mkdirSync(dir, { recursive: true });
    const commands = [
      ["status"], ["status", "--json"], ["status", "r1"], ["gates"], ["gates", "r1"], ["log", "r1"], ["logs", "r1/a"], ["inspect", "r1/a"], ["graph", "r1"],
      ["approve", "g1"], ["reject", "g1", "--reason", "no"], ["cancel", "r1"], ["resume", "r1"], ["emit", "deployed"],
      ["schedule", "list"], ["schedule", "rm", "nightly"], ["schedule", "pause", "nightly"], ["schedule", "run", "nightly"], ["schedule", "log", "nightly"],
      ["workers"], ["workers", "--json"], ["doctor"], ["doctor", "--json"],
    ];
    for (const args of commands) {
      const result = await farcaster(args, { cwd: dir });
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      const message = args.includes("--json") ? JSON.parse(result.stderr).error.message : result.stderr;
      expect(message).toContain(`database ".farcaster/farcaster.db" not found; looked in ${dir} and the `);
      // The test preload sets FARCASTER_CEILING_DIRECTORIES to the tests' root: nothing above it is looked at.
      expect(message).toContain(`the 2 directories above it (up to ${top}) (not ${process.env.FARCASTER_TEST_DIR} or above: a ceiling in FARCASTER_CEILING_DIRECTORIES)`);
      expect(result.stdout).toBe("");
    }
    for (let at = dir; at !== top; at = join(at, "..")) expect(existsSync(join(at, ".farcaster"))).toBe(false);
    expect(existsSync(join(top, ".farcaster"))).toBe(false);
  }, 60_000);

  test("with no database found, commands that create work create it in the current directory", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    const run = await farcaster(["run", "plan.json", "--detach"], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(existsSync(join(dir, ".farcaster", "farcaster.db"))).toBe(true);

    const scheduleDir = freshDir();
    writeFileSync(join(scheduleDir, "plan.json"), PLAN);
    const added = await farcaster(["schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "--plan", "plan.json"], { cwd: scheduleDir });
    expect(added.code).toBe(0);
    expect(existsSync(join(scheduleDir, ".farcaster", "farcaster.db"))).toBe(true);

    const workerDir = freshDir();
    const worker = spawnFarcaster(["worker"], { cwd: workerDir });
    await until(() => worker.seen.includes("slots"), 30_000, "the worker to start");
    worker.proc.kill("SIGTERM");
    expect(await worker.proc.exited).toBe(0);
    expect(existsSync(join(workerDir, ".farcaster", "farcaster.db"))).toBe(true);
  }, 60_000);

  test("--db and FARCASTER_DB win over a database found above", async () => {
    const { sub } = await project();
    const other = join(freshDir(), "other.db");
    const viaEnv = await farcaster(["status", "--json"], { cwd: sub, db: other });
    expect(viaEnv.code).toBe(1);
    expect(JSON.parse(viaEnv.stderr).error).toEqual({ code: "database_not_found", message: expect.stringContaining(`database "${other}" not found`) });
    const viaFlag = await farcaster(["status", "--db", "../x.db"], { cwd: sub });
    expect(viaFlag.code).toBe(1);
    expect(viaFlag.stderr).toContain(`database "${join(sub, "..", "x.db")}" not found`);
  });

  test("locateDatabase searches the current directory, then each one above it, nearest first", () => {
    const root = freshDir();
    const sub = join(root, "x", "y");
    mkdirSync(sub, { recursive: true });
    const none = locateDatabase(undefined, {}, sub);
    expect(none.source).toBe("default");
    expect(none.db).toBe(join(sub, ".farcaster", "farcaster.db"));
    expect(none.searched.slice(0, 3)).toEqual([sub, join(root, "x"), root]);
    expect(none.searched.at(-1)).toBe("/");
    mkdirSync(join(root, ".farcaster"));
    writeFileSync(join(root, ".farcaster", "farcaster.db"), "");
    expect(locateDatabase(undefined, {}, sub)).toEqual({ db: join(root, ".farcaster", "farcaster.db"), source: "found", searched: [sub, join(root, "x"), root], ignored: [] });
    expect(locateDatabase("rel.db", {}, sub)).toEqual({ db: join(sub, "rel.db"), source: "flag", searched: [], ignored: [] });
    expect(locateDatabase(undefined, { FARCASTER_DB: "postgres://u@h/db" }, sub)).toEqual({ db: "postgres://u@h/db", source: "env", searched: [], ignored: [] });
  });

  test("with --json, a command that fails from a subdirectory writes one JSON object on stderr: the error, with the database it found beside it", async () => {
    const { root, sub, db } = await project();
    const failed = await farcaster(["status", "rnope", "--json"], { cwd: sub });
    expect(failed.code).toBe(1);
    const lines = failed.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ error: { code: "run_not_found", message: expect.stringContaining("rnope") }, database: { path: db, foundIn: root } });
  });
});

describe("bounding the search (FARCASTER_CEILING_DIRECTORIES) and trusting only our own databases", () => {
  test("the search never goes up into a ceiling directory; it starts in one if that is the current directory; relative entries are ignored", () => {
    const outer = freshDir();
    mkdirSync(join(outer, ".farcaster"));
    writeFileSync(join(outer, ".farcaster", "farcaster.db"), "");
    const mid = join(outer, "mid");
    const sub = join(mid, "sub");
    mkdirSync(sub, { recursive: true });
    const found = join(outer, ".farcaster", "farcaster.db");
    expect(locateDatabase(undefined, {}, sub).db).toBe(found);
    const bounded = locateDatabase(undefined, { FARCASTER_CEILING_DIRECTORIES: `/nowhere:${mid}` }, sub);
    expect(bounded).toEqual({ db: join(sub, ".farcaster", "farcaster.db"), source: "default", searched: [sub], ceiling: mid, ignored: [] });
    expect(locateDatabase(undefined, { FARCASTER_CEILING_DIRECTORIES: outer }, sub).searched).toEqual([sub, mid]);
    expect(locateDatabase(undefined, { FARCASTER_CEILING_DIRECTORIES: outer }, outer).db).toBe(found);
    expect(locateDatabase(undefined, { FARCASTER_CEILING_DIRECTORIES: `mid:${join(outer, "..", "nope")}` }, sub).db).toBe(found);
  });

  test("a stray .farcaster/farcaster.db above the tests' root (the preload's ceiling) is never seen by a command, nor written to", async () => {
    const root = process.env.FARCASTER_TEST_DIR!;
    expect(process.env.FARCASTER_CEILING_DIRECTORIES).toBe(root);
    const stray = join(root, ".farcaster", "farcaster.db");
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), PLAN);
    mkdirSync(join(root, ".farcaster"));
    try {
      writeFileSync(stray, "not a database");
      const status = await farcaster(["status"], { cwd: dir });
      expect(status.code).toBe(1);
      expect(status.stderr).toContain(`database ".farcaster/farcaster.db" not found; looked in ${dir} (not ${root} or above`);
      const run = await farcaster(["run", "plan.json", "--detach"], { cwd: dir });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
      expect(existsSync(join(dir, ".farcaster", "farcaster.db"))).toBe(true);
      expect(statSync(stray).size).toBe("not a database".length);
    } finally {
      rmSync(join(root, ".farcaster"), { recursive: true, force: true });
    }
  });

  test.skipIf(process.getuid?.() !== 0)("a found database whose file or directory another user owns is passed over and named; named with --db it is used", () => {
    for (const owned of ["file", "directory"] as const) {
      const root = freshDir();
      const sub = join(root, "sub");
      mkdirSync(join(root, ".farcaster"));
      mkdirSync(sub);
      const db = join(root, ".farcaster", "farcaster.db");
      writeFileSync(db, "");
      chownSync(owned === "file" ? db : join(root, ".farcaster"), 65534, 65534);
      expect({ owned, location: locateDatabase(undefined, {}, sub) }).toEqual({
        owned,
        location: { db: join(sub, ".farcaster", "farcaster.db"), source: "default", searched: expect.arrayContaining([sub, root]), ignored: [{ path: db, owner: 65534 }] },
      });
      expect(locateDatabase(db, {}, sub)).toEqual({ db, source: "flag", searched: [], ignored: [] });
      expect(locateDatabase(undefined, { FARCASTER_DB: db }, sub).source).toBe("env");
    }
  });

  test.skipIf(process.getuid?.() !== 0)("as another user below a root-owned database: status passes over it saying so once, --json folds that into its one error object, and a worker uses a database of its own", async () => {
    const { root, sub, db } = await project();
    // The user nobody must reach the project by its absolute path (the tests' root is 0700), and write in sub.
    chmodSync(process.env.FARCASTER_TEST_DIR!, 0o711);
    chmodSync(root, 0o755);
    chownSync(sub, 65534, 65534);
    const env: Record<string, string> = { ...(process.env as Record<string, string>), HOME: sub };
    delete env.FARCASTER_DB;
    const asNobody = async (args: string[]) => {
      const proc = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ENTRY, ...args], { cwd: sub, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    };
    const status = await asNobody(["status"]);
    expect(status.code).toBe(1);
    const lines = status.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      `farcaster: ignoring ${db}: it is owned by uid 0, not by you (uid 65534), so another user may have put it there; name it with --db (or FARCASTER_DB) if you trust it`,
      expect.stringContaining(`database ".farcaster/farcaster.db" not found; looked in ${sub} and the `),
    ]);
    expect(lines[1]).toContain(`passing over ${db} (owned by uid 0, not by you)`);
    const json = await asNobody(["status", "--json"]);
    expect(json.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: "database_not_found", message: expect.stringContaining("passing over") }, database: { ignored: [{ path: db, owner: 0 }] } });

    const proc = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ENTRY, "worker"], { cwd: sub, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let seen = "";
    const reading = (async () => {
      for await (const chunk of proc.stdout) seen += new TextDecoder().decode(chunk);
    })();
    await until(() => seen.includes("slots") || proc.exitCode !== null, 30_000, "the worker to start");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await reading;
    expect(await new Response(proc.stderr).text()).toContain(`farcaster: ignoring ${db}`);
    expect(statSync(join(sub, ".farcaster", "farcaster.db")).uid).toBe(65534);
  }, 60_000);
});
