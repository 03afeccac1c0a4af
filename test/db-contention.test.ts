/**
 * Opening under contention: a process that left a large WAL is SIGKILLed, so
 * the next opener must recover that WAL while the others wait on it
 * (SQLITE_BUSY / SQLITE_BUSY_RECOVERY). Opening, migrating and reading retry
 * with the writes' bounded, jittered waits; only past the bound is there an
 * error, and then a clear `store_busy`.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreBusyError } from "../src/core/errors.ts";
import { openDatabase } from "../src/store/sqlite/database.ts";
import { isBusyError, retryWhileBusy } from "../src/store/sqlite/writeLock.ts";
import { farcaster, spawnFarcaster, until } from "./cli-helpers.ts";
import { freshDir, openTestStore, rejected } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "fixtures");

/** Starts a fixture and waits for `marker` on its stdout; `output()` is all it printed so far (read on in the background). */
async function startFixture(script: string, args: string[], marker: string) {
  const proc = Bun.spawn([process.execPath, join(FIXTURES, script), ...args], { stdout: "pipe", stderr: "inherit" });
  let seen = "";
  const read = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) seen += decoder.decode(chunk, { stream: true });
  })();
  let ended = false;
  void read.finally(() => (ended = true));
  await until(() => ended || seen.includes(marker), 60_000, `${script} to print "${marker}"`);
  if (!seen.includes(marker)) throw new Error(`${script} ended before printing "${marker}" (exit ${await proc.exited})`);
  return { proc, output: () => seen, read };
}

describe("opening a database while another process holds or recovers it", () => {
  test("eight commands started at once after a writer with a large WAL was SIGKILLed all succeed", async () => {
    const dir = freshDir();
    const db = join(dir, ".farcaster", "farcaster.db");
    const writer = await startFixture("walWriter.ts", [db, "128"], "ready");
    expect(statSync(`${db}-wal`).size).toBeGreaterThan(100 * 1024 * 1024);
    writer.proc.kill("SIGKILL");
    await writer.proc.exited;

    writeFileSync(join(dir, "plan.json"), JSON.stringify({ version: 1, goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", input: {} }] }));
    const options = { cwd: dir, db };
    const worker = spawnFarcaster(["worker", "--concurrency", "2"], options);
    const commands = [
      farcaster(["status"], options),
      farcaster(["status", "--json"], options),
      farcaster(["gates"], options),
      farcaster(["emit", "deployed", "--data", '{"version": 2}'], options),
      farcaster(["schedule", "list", "--json"], options),
      farcaster(["run", "plan.json", "--detach"], options),
      farcaster(["gates", "--all", "--json"], options),
    ];
    // The worker runs for a moment: until it is up and working, then Ctrl-C.
    await until(() => worker.seen.includes("slots"), 30_000, "the worker to start");
    const results = await Promise.all(commands);
    for (const result of results) {
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    }
    worker.proc.kill("SIGTERM");
    expect(await worker.proc.exited).toBe(0);
    expect(await worker.stderr).not.toContain("locked");
    const runs = JSON.parse((await farcaster(["status", "--json"], options)).stdout).runs;
    expect(runs).toHaveLength(1);
  }, 90_000);

  test("opening waits for a lock another process holds and succeeds once it is released", async () => {
    const path = join(freshDir(), "farcaster.db");
    openDatabase(path).close();
    const holder = await startFixture("lockHolder.ts", [path, "400"], "locked");
    const store = openTestStore(path, { readOnly: true });
    const openedAt = Date.now();
    expect(await store.listRuns()).toEqual([]);
    expect(await holder.proc.exited).toBe(0);
    await holder.read;
    // The order of events, not a duration: the open returned only after the holder let go.
    const releasedAt = Number(/releasing at (\d+)/.exec(holder.output())?.[1]);
    expect(releasedAt).toBeGreaterThan(0);
    expect(openedAt).toBeGreaterThanOrEqual(releasedAt);
  });

  test("past its bound, opening fails with store_busy naming the file", async () => {
    const path = join(freshDir(), "farcaster.db");
    openDatabase(path).close();
    const holder = new Database(path);
    try {
      holder.run("PRAGMA locking_mode = EXCLUSIVE");
      holder.run("INSERT INTO signals (name, emitted_by, emitted_at) VALUES ('x', 'test', 0)");
      const error = (() => {
        try {
          openDatabase(path, { busyTimeoutMs: 150 }).close();
        } catch (caught) {
          return caught as Error;
        }
        throw new Error("expected opening to fail");
      })();
      expect(error).toBeInstanceOf(StoreBusyError);
      expect(error.message).toContain(`opening ${path}: the database stayed locked`);
    } finally {
      holder.close();
    }
  });

  test("a read that meets a lock retries until it is released, and fails with store_busy past its bound", async () => {
    // A rollback-journal database held by BEGIN EXCLUSIVE: every read of another connection is SQLITE_BUSY.
    const path = join(freshDir(), "plain.db");
    const holder = new Database(path);
    const reader = new Database(path, { readonly: false });
    try {
      holder.run("CREATE TABLE t (x)");
      holder.run("INSERT INTO t VALUES (7)");
      reader.run("PRAGMA busy_timeout = 0");
      holder.run("BEGIN EXCLUSIVE");
      holder.run("INSERT INTO t VALUES (8)");
      const read = () => reader.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n;
      const error = await rejected(retryWhileBusy(read, 100, `reading ${path}`));
      expect(error).toBeInstanceOf(StoreBusyError);
      expect(error.message).toContain(`reading ${path}: the database stayed locked`);
      const patient = retryWhileBusy(read, 10_000, `reading ${path}`);
      setTimeout(() => holder.run("COMMIT"), 150);
      expect(await patient).toBe(2);
    } finally {
      reader.close();
      holder.close();
    }
  });

  test("busy errors include SQLite's extended codes", () => {
    for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_RECOVERY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_TIMEOUT", "SQLITE_LOCKED", "SQLITE_LOCKED_SHAREDCACHE"]) {
      expect(isBusyError(Object.assign(new Error("busy"), { code }))).toBe(true);
    }
    for (const code of ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_IOERR", undefined]) expect(isBusyError(Object.assign(new Error("other"), { code }))).toBe(false);
  });
});
