/** `farcaster workers` and the text of `status RUN` through the real CLI, with real worker processes. */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { farcaster, spawnFarcaster, withReader } from "./cli-helpers.ts";
import { freshDir, openTestStore, until } from "./helpers.ts";

async function createRun(db: string, tasks: { id: string; command: string }[]): Promise<string> {
  const store = openTestStore(db);
  try {
    return (await store.createRun({ goal: "g", tasks: tasks.map((t) => ({ id: t.id, title: t.id, workflow: "shell", input: { command: t.command } })) })).id;
  } finally {
    await store.close();
  }
}

describe("farcaster workers", () => {
  test("a running worker shows alive with its host, pid, workflow and the lease it holds; status shows the drone and the lease left", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, [{ id: "slow", command: "sleep 30" }]);
    const worker = spawnFarcaster(["worker", "--db", db], { cwd: dir });
    await until(async () => (await withReader(db, (store) => store.findTask(runId, "slow"))).state === "running", 20_000, "the task to run");
    const { drones } = JSON.parse((await farcaster(["workers", "--json"], { db })).stdout);
    expect(drones).toHaveLength(1);
    expect(drones[0]).toMatchObject({ pid: String(worker.proc.pid), liveness: "alive", processRunning: true, held: 1, workflows: ["shell"] });
    expect(drones[0].leases[0]).toMatchObject({ runId, key: "slow", warning: null });
    expect(drones[0].leases[0].leftMs).toBeGreaterThan(0);
    const text = (await farcaster(["workers"], { db })).stdout;
    expect(text).toMatch(/^DRONE\s+HOST\s+PID\s+STATE\s+HELD\s+HEARTBEAT\s+WORKFLOWS/);
    expect(text).toMatch(new RegExp(`${drones[0].id}\\s+\\S+\\s+${worker.proc.pid}\\s+alive\\s+1\\s+.*ago\\s+shell`));
    expect(text).toMatch(new RegExp(`${runId}/slow  lease \\d+(\\.\\d)?s left`));
    expect((await farcaster(["status", runId], { db })).stdout).toMatch(new RegExp(`slow\\s+running.*${drones[0].id}, lease \\d+(\\.\\d)?s left`));
    worker.proc.kill("SIGKILL");
    await worker.proc.exited;
  }, 30_000);

  test("status shows each failed task's reason and error", async () => {
    const dir = freshDir();
    const db = join(dir, "f.db");
    const runId = await createRun(db, [{ id: "broken", command: "echo nope >&2; exit 3" }]);
    const worker = spawnFarcaster(["worker", "--db", db], { cwd: dir });
    await until(async () => (await withReader(db, (store) => store.getRun(runId))).state === "failed", 20_000, "the run to fail");
    worker.proc.kill("SIGTERM");
    await worker.proc.exited;
    const status = (await farcaster(["status", runId], { db })).stdout;
    expect(status).toContain("DRONE / REASON");
    expect(status).toMatch(/broken\s+failed\s+-\s+1\s+shell\s+error: .*exit/);
  }, 30_000);

  test("with no database it exits 1 naming the file; with no drone seen it says how to start one; a bad --since is a command-line error", async () => {
    const dir = freshDir();
    const db = join(dir, "none.db");
    const none = await farcaster(["workers"], { db });
    expect([none.code, none.stderr]).toEqual([1, expect.stringContaining(db)]);
    expect(existsSync(db)).toBe(false);
    await createRun(db, [{ id: "a", command: "true" }]);
    const empty = await farcaster(["workers"], { db });
    expect([empty.code, empty.stdout]).toEqual([0, expect.stringContaining("no drone seen in the last 10m0s: start one with `farcaster worker`")]);
    expect(JSON.parse((await farcaster(["workers", "--json"], { db })).stdout)).toEqual({ sinceMs: 600_000, drones: [] });
    expect((await farcaster(["workers", "--since", "1m"], { db })).stdout).toContain("no drone seen in the last 1m0s");
    const bad = await farcaster(["workers", "--since", "lately"], { db });
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining("--since must be a duration")]);
  });
});
