/**
 * The CLI on PostgreSQL: `--db postgres://…` or FARCASTER_DB=postgresql://…
 * selects the PostgreSQL store for every command, the main job, `worker`
 * and `serve`; a server that cannot be reached is one line that names it.
 * Each test works in a schema of its own (created by the CLI itself).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { cpSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ENTRY, farcaster, REPO, spawnFarcaster, until } from "./cli-helpers.ts";
import { dropSchema, openPgStore, pgAvailable, pgUrl } from "./fixtures/pg.ts";
import { freshDir } from "./helpers.ts";

const running: Subprocess[] = [];
const schemas: string[] = [];

afterEach(async () => {
  for (const proc of running.splice(0)) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

/** A schema name for this test; the CLI creates it (the first command that writes), the test drops it. */
function schemaUrl(): string {
  const schema = `fct_cli_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  schemas.push(schema);
  return pgUrl(schema);
}

function schemaOf(url: string): string {
  return new URL(url).searchParams.get("schema")!;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("choosing the store by URL", () => {
  test("a PostgreSQL server that cannot be reached is one line naming it and what to check, exit 1, for reads, workers and serve", async () => {
    const url = `postgres://someone@127.0.0.1:${await closedPort()}/farcaster`;
    for (const args of [["status"], ["worker"], ["serve", "--port", "0"], ["approve", "g1", "--by", "x"]]) {
      const result = await farcaster([...args, "--db", url]);
      expect({ args, code: result.code, lines: result.stderr.trim().split("\n").length }).toEqual({ args, code: 1, lines: 1 });
      expect(result.stderr).toContain(`cannot reach PostgreSQL at someone@127.0.0.1:${new URL(url).port}/farcaster`);
      expect(result.stderr).toContain("check that PostgreSQL is running there");
    }
    const env = await farcaster(["status"], { env: { FARCASTER_DB: url.replace("postgres://", "postgresql://") } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain("cannot reach PostgreSQL at someone@");
  });

  test("a password in the URL never appears in a message", async () => {
    const url = `postgres://someone:hunter2@127.0.0.1:${await closedPort()}/farcaster`;
    const result = await farcaster(["status", "--db", url]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("hunter2");
  });
});

describe.skipIf(!pgAvailable)("the CLI on PostgreSQL", () => {
  test("status on a database without Farcaster's tables says so, exits 1, and creates nothing", async () => {
    const url = schemaUrl();
    const result = await farcaster(["status", "--json", "--db", url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(JSON.parse(result.stderr).error).toMatchObject({ code: "database_not_found", message: expect.stringContaining("has no Farcaster tables yet") });
    const approve = await farcaster(["approve", "g-none", "--by", "x", "--db", url]);
    expect(approve.code).toBe(1);
    expect(approve.stderr).toContain("has no Farcaster tables yet");
  });

  test("doctor and workers on PostgreSQL: a run nobody works is a finding (exit 1) with the server named; once a worker ran it, healthy, and the drone is listed", async () => {
    const url = schemaUrl();
    const dir = freshDir();
    await Bun.write(join(dir, "plan.json"), JSON.stringify({ goal: "doctor on PostgreSQL", tasks: [{ id: "a", title: "A", workflow: "noop", input: {} }] }));
    const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: dir, env: { FARCASTER_DB: url } });
    const runId = JSON.parse(created.stdout).run.id as string;
    const noModel = { OPENAI_API_KEY: "", OPENAI_BASE_URL: "" };
    // No grace: the planning task became ready a moment ago, and nobody will claim it.
    const sick = await farcaster(["doctor", "--json", "--grace", "1ms", "--db", url], { env: noModel });
    expect(sick.code).toBe(1);
    const report = JSON.parse(sick.stdout);
    expect(report.findings.map((f: { kind: string; runId: string }) => [f.kind, f.runId])).toEqual([["no_drone", runId]]);
    expect(report.database).toMatchObject({ dialect: "postgres", schema: schemaOf(url), schemaVersion: report.database.latestVersion });
    expect(report.database.serverVersion).toMatch(/^\d+/);
    expect(report.database.target).not.toContain("password");
    // The plain line names the schema once (the server's label alone, then the schema).
    const line = (await farcaster(["doctor", "--grace", "1ms", "--db", url], { env: noModel })).stdout.split("\n").find((l) => l.startsWith("database"))!;
    expect(line.split(`(schema ${schemaOf(url)})`)).toHaveLength(2);

    const worker = spawnFarcaster(["worker", "--id", "pg-drone"], { cwd: dir, env: { FARCASTER_DB: url } });
    running.push(worker.proc);
    await until(async () => JSON.parse((await farcaster(["status", runId, "--json", "--db", url])).stdout).run.state === "succeeded", 30_000, "the worker to finish the run");
    const well = await farcaster(["doctor", "--json", "--grace", "1ms", "--db", url], { env: noModel });
    expect([well.code, JSON.parse(well.stdout).findings]).toEqual([0, []]);
    const workers = JSON.parse((await farcaster(["workers", "--json", "--db", url])).stdout);
    expect(workers.drones.map((d: { id: string }) => d.id)).toEqual(["pg-drone"]);
  }, 40_000);

  test("run --detach creates the run; worker processes on the same URL do it; status, inspect and log read it", async () => {
    const url = schemaUrl();
    const dir = freshDir();
    const plan = {
      goal: "a small DAG on PostgreSQL",
      tasks: [
        { id: "a", title: "A", workflow: "shell", input: { command: "echo from-a" } },
        { id: "b", title: "B", workflow: "noop", input: {}, after: ["a"] },
        { id: "c", title: "C", workflow: "noop", input: {}, after: ["a"] },
        { id: "d", title: "D", workflow: "noop", input: {}, after: ["b", "c"] },
      ],
    };
    await Bun.write(join(dir, "plan.json"), JSON.stringify(plan));
    const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: dir, env: { FARCASTER_DB: url } });
    expect(created.code).toBe(0);
    const runId = JSON.parse(created.stdout).run.id as string;
    const workers = [0, 1].map((i) => spawnFarcaster(["worker", "--id", `w${i}`, "-c", "2"], { cwd: dir, env: { FARCASTER_DB: url } }));
    for (const worker of workers) running.push(worker.proc);
    await until(async () => JSON.parse((await farcaster(["status", runId, "--json", "--db", url])).stdout).run.state === "succeeded", 30_000, "the workers to finish the run");
    const status = JSON.parse((await farcaster(["status", runId, "--json", "--db", url])).stdout);
    const states = Object.fromEntries(status.tasks.map((t: { key: string; state: string }) => [t.key, t.state]));
    expect(states).toMatchObject({ a: "succeeded", b: "succeeded", c: "succeeded", d: "succeeded" });
    const inspect = await farcaster(["inspect", `${runId}/a`, "--json", "--db", url]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout).attempts.map((a: { state: string }) => a.state)).toEqual(["succeeded"]);
    const log = await farcaster(["log", runId, "--db", url]);
    expect(log.code).toBe(0);
    expect(log.stdout).toContain("succeeded");
    for (const worker of workers) worker.proc.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.proc.exited))).toEqual([0, 0]);
  }, 60_000);

  test("the main job on FARCASTER_DB=postgresql://…: the example goal runs end to end, its gate approved from another process", async () => {
    const url = schemaUrl().replace(/^postgres:/, "postgresql:");
    const dir = freshDir();
    cpSync(join(REPO, "examples", "site"), join(dir, "examples", "site"), { recursive: true });
    const job = spawnFarcaster(["examples/site/goal.md", "--workers", "3"], { cwd: dir, env: { FARCASTER_DB: url } });
    running.push(job.proc);
    await until(() => job.seen.includes("waiting for a person"), 30_000, "the review gate to be announced");
    const gates = JSON.parse((await farcaster(["gates", "--json"], { cwd: dir, env: { FARCASTER_DB: url } })).stdout);
    const gate = (gates.gates ?? gates)[0];
    expect(gate).toMatchObject({ taskKey: "review" });
    const approve = await farcaster(["approve", gate.id, "--by", "reviewer"], { cwd: dir, env: { FARCASTER_DB: url } });
    expect(approve.code).toBe(0);
    expect(await job.proc.exited).toBe(0);
    expect(await job.stdout).toMatch(/run r\w+ succeeded in/);
  }, 60_000);

  test("serve on PostgreSQL: a run created over HTTP is done by a worker process, and its events stream over SSE", async () => {
    const url = schemaUrl();
    const dir = freshDir();
    const serve = Bun.spawn([process.execPath, ENTRY, "serve", "--port", "0", "--db", url], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    running.push(serve);
    const reader = serve.stdout.getReader();
    let seen = "";
    while (!/listening on (http:\/\/\S+)/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited: ${seen} ${await new Response(serve.stderr).text()}`);
      seen += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const base = /listening on (http:\/\/\S+)/.exec(seen)![1]!;
    const workplan = { goal: "over HTTP", tasks: [{ id: "only", title: "only", workflow: "noop", input: {} }] };
    const created = await fetch(`${base}/v1/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workplan }) });
    expect(created.status).toBe(201);
    const { run } = (await created.json()) as { run: { id: string } };
    const worker = spawnFarcaster(["worker", "--id", "elsewhere"], { cwd: dir, env: { FARCASTER_DB: url } });
    running.push(worker.proc);
    const store = await openPgStore(schemaOf(url), { readOnly: true });
    await until(async () => (await store.getRun(run.id)).state === "succeeded", 30_000, "the worker to finish the run");
    const events = await fetch(`${base}/v1/runs/${run.id}/events`);
    const text = await events.text(); // the stream ends with the run
    expect(text).toContain("run.succeeded");
    await store.close();
  }, 60_000);
});
