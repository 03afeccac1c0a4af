/**
 * Clients that go away are not faults: a socket that sends half a body and
 * closes, or one that drops an event stream, leaves nothing in the serve log
 * but its start and stop lines, and the server goes on answering.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { startServe, type ServeProcess } from "./fixtures/serve.ts";
import { until } from "./helpers.ts";

const servers: ServeProcess[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.proc.exitCode === null) await server.stop();
});

/** A raw TCP connection to the server; `received` collects what it answered. */
async function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const state = { received: "", closed: false };
  const socket: Socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data: (_socket, chunk) => void (state.received += chunk.toString()),
      close: () => void (state.closed = true),
    },
  });
  return { socket, state };
}

/** What a server logs besides its own start and stop lines. */
function noise(log: string): string[] {
  return log.split("\n").filter((line) => line.trim() !== "" && !/^farcaster serve: (listening on|stopping)/.test(line));
}

describe("clients that go away", () => {
  test("a request that sends half its body and closes the socket is not an error in the log", async () => {
    const server = await startServe();
    servers.push(server);
    for (const path of ["/v1/runs", "/v1/events/deploy", "/v1/schedules"]) {
      const { socket, state } = await rawConnection(server.url);
      // `Expect: 100-continue`: the server answers "100 Continue" once it has taken the request up
      // and handed it to the app, so the client goes away while the app waits for the body.
      socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n`);
      socket.flush();
      await until(() => state.received.startsWith("HTTP/1.1 100 Continue"), 10_000, `the server to take up POST ${path}`);
      socket.write(`{"goal": "# half a go`);
      socket.flush();
      socket.terminate();
    }
    // The server still answers, and reading the body again works.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ok = await fetch(`${server.url}/v1/events/deploy`, { method: "POST", body: JSON.stringify({ data: 1 }), headers: { "content-type": "application/json" } });
    expect(ok.status).toBe(201);
    expect(await server.stop()).toBe(0);
    expect(noise(server.log())).toEqual([]);
  });

  test("a client that drops an event stream, before and after events flowed, is not an error in the log", async () => {
    const server = await startServe();
    servers.push(server);
    const created = await fetch(`${server.url}/v1/runs`, { method: "POST", body: JSON.stringify({ goal: "# g\n\n## a: A\ngate: Ship it?\n" }), headers: { "content-type": "application/json" } });
    const { run } = (await created.json()) as { run: { id: string } };
    const streams = await Promise.all([rawConnection(server.url), rawConnection(server.url)]);
    for (const { socket } of streams) socket.write(`GET /v1/runs/${run.id}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
    await until(() => streams.every(({ state }) => state.received.includes("event: run.created")), 10_000, "the streams to deliver run.created");
    streams[0]!.socket.terminate(); // gone while the stream waits for more
    // New events while one stream is gone and the other is dropped as they come.
    const cancelled = fetch(`${server.url}/v1/runs/${run.id}/cancel`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    streams[1]!.socket.terminate();
    expect((await cancelled).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(noise(server.log())).toEqual([]);
  });
});
