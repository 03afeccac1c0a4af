/** `farcaster serve` as a real subprocess on loopback, driven over real HTTP. */
import { afterEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { ENTRY, farcaster } from "./cli-helpers.ts";
import { freshDir, until } from "./helpers.ts";

const running: Subprocess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) proc.kill("SIGKILL");
});

async function serve(args: string[], env: Record<string, string> = {}): Promise<{ url: string; proc: Subprocess<"ignore", "pipe", "pipe"> }> {
  const dir = freshDir();
  const proc = Bun.spawn([process.execPath, ENTRY, "serve", "--port", "0", "--db", join(dir, "f.db"), ...args], {
    cwd: dir,
    env: { ...(process.env as Record<string, string>), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.push(proc);
  const reader = proc.stdout.getReader();
  let seen = "";
  while (!/listening on (http:\/\/\S+)/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited: ${seen} ${await new Response(proc.stderr).text()}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { url: /listening on (http:\/\/\S+)/.exec(seen)![1]!, proc };
}

/** Reads an SSE response until `stop` says so; returns the events seen. */
async function readEvents(response: Response, stop: (event: { id?: string; event: string; data: any }) => boolean) {
  const events: { id?: string; event: string; data: any }[] = [];
  const reader = response.body!.getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    buffer += new TextDecoder().decode(value);
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) => chunk.split("\n").find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1).trim();
      const event = { id: field("id"), event: field("event") ?? "message", data: JSON.parse(field("data") ?? "null") };
      events.push(event);
      if (stop(event)) {
        await reader.cancel();
        return events;
      }
    }
  }
}

describe("farcaster serve", () => {
  test("trigger a gated goal over HTTP, watch the SSE stream until the gate, approve it over HTTP, see the run succeed", async () => {
    const token = "t0ken-for-test";
    const { url } = await serve(["--workers", "2"], { FARCASTER_TOKEN: token });
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const goal = "# Release\n\n## build: Build\nrun: echo built\n\n## approve: Approve\nafter: build\ngate: Release the build?\n\n## release: Release\nafter: approve\nrun: echo released\n";

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/v1/runs`)).status).toBe(401);
    const trigger = () => fetch(`${url}/v1/runs`, { method: "POST", headers: { ...auth, "idempotency-key": "release-1" }, body: JSON.stringify({ goal }) });
    const first = await trigger();
    expect(first.status).toBe(201);
    const { run } = (await first.json()) as { run: { id: string } };

    const stream = await fetch(`${url}/v1/runs/${run.id}/events`, { headers: auth });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const seen = await readEvents(stream, (e) => e.event === "gate.opened");
    const opened = seen.at(-1)!;
    expect(seen.map((e) => e.event)).toContain("task.succeeded");
    const gateId = opened.data.data.gate as string;

    const approve = await fetch(`${url}/v1/gates/${gateId}/approve`, { method: "POST", headers: auth, body: JSON.stringify({ by: "release-manager" }) });
    expect(approve.status).toBe(200);

    // Resume the stream after the last event seen; it ends with the run.
    const rest = await readEvents(await fetch(`${url}/v1/runs/${run.id}/events`, { headers: { ...auth, "last-event-id": opened.id! } }), (e) => e.event === "end");
    expect(rest.map((e) => e.event)).toContain("gate.approved");
    expect(rest.at(-1)!.data.run.state).toBe("succeeded");
    expect(Number(rest[0]!.id)).toBeGreaterThan(Number(opened.id));

    const again = await trigger();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { run: { id: string } }).run.id).toBe(run.id);
  });

  test("a seconds-level schedule fires once per slot against a real server, and can be paused over HTTP", async () => {
    const { url } = await serve(["--workers", "1"]);
    const json = { "content-type": "application/json" };
    const goal = "# Tick\n\n## tick: Tick\nworkflow: noop\ninput: {\"n\": 1}\n";
    const created = await fetch(`${url}/v1/schedules`, { method: "POST", headers: json, body: JSON.stringify({ name: "ticker", cron: "* * * * * *", goal, overlap: "allow" }) });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { schedule: { nextFireAt: number } }).schedule.nextFireAt).toBeGreaterThan(Date.now() - 1_000);
    const bad = await fetch(`${url}/v1/schedules`, { method: "POST", headers: json, body: JSON.stringify({ name: "bad", cron: "* * *", goal }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('cron expression "* * *" is invalid');

    type Run = { source: string; state: string; idempotencyKey: string };
    const scheduled = async () => ((await (await fetch(`${url}/v1/runs?limit=100`)).json()) as { runs: Run[] }).runs.filter((r) => r.source === "schedule:ticker");
    await until(async () => (await scheduled()).filter((r) => r.state === "succeeded").length >= 2, 15_000, "two scheduled runs to succeed");
    expect((await fetch(`${url}/v1/schedules/ticker/pause`, { method: "POST" })).status).toBe(200);
    const runs = await scheduled();
    expect(runs.filter((r) => r.state === "succeeded").length).toBeGreaterThanOrEqual(2);
    const slots = runs.map((r) => Number(r.idempotencyKey.split(":").at(-1)));
    expect(new Set(slots).size).toBe(slots.length); // one run per slot
    expect(slots.every((slot) => slot % 1_000 === 0)).toBe(true); // on whole seconds
    const count = runs.length;
    // Nothing to wait for here: this checks that nothing happens while more slots pass.
    await Bun.sleep(1_500);
    expect((await scheduled()).length).toBe(count); // paused: no more fires, not even one in flight at the pause
  });

  test("refuses to listen beyond loopback without a token", async () => {
    const result = await farcaster(["serve", "--host", "0.0.0.0", "--port", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("refusing to listen on 0.0.0.0 without a token: set FARCASTER_TOKEN");
  });

  test("a port in use and an address this machine does not have are named with the option to change (they were internal errors)", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
    try {
      const busy = await farcaster(["serve", "--port", String(taken.port)]);
      expect(busy.code).toBe(2);
      expect(busy.stderr.split("\n")[0]).toBe(`farcaster: --port ${taken.port}: something already listens on 127.0.0.1:${taken.port}; stop it, pick another port, or --port 0 for a free one [usage]`);
    } finally {
      taken.stop(true);
    }
    const nowhere = await farcaster(["serve", "--host", "999.1.1.1", "--port", "0"], { env: { FARCASTER_TOKEN: "t" } });
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain("--host 999.1.1.1: this machine has no such address to listen on");
    expect(nowhere.stderr).not.toContain("[internal]");
  });
});
