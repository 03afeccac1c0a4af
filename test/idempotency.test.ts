/**
 * Idempotent triggers over real HTTP: a retry with the same Idempotency-Key
 * answers 200 with the same run, and of ten concurrent requests with one key
 * exactly one answers 201 — on SQLite and on PostgreSQL (the store decides, in
 * the write that inserts the run).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { dropSchema, pgAvailable, pgUrl } from "./fixtures/pg.ts";
import { startServe, type ServeProcess } from "./fixtures/serve.ts";

const GOAL = "# Ship it\n\n## build: Build\nrun: echo built\n";

const servers: ServeProcess[] = [];
const schemas: string[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

async function trigger(server: ServeProcess, key: string) {
  const response = await fetch(`${server.url}/v1/runs`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ goal: GOAL }),
  });
  return { status: response.status, body: (await response.json()) as { run: { id: string }; created: boolean } };
}

async function tenAtOnce(server: ServeProcess) {
  const answers = await Promise.all(Array.from({ length: 10 }, () => trigger(server, "release-1.4")));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  const created = answers.find((a) => a.status === 201)!;
  expect(created.body.created).toBe(true);
  for (const answer of answers) expect(answer.body.run.id).toBe(created.body.run.id);
  for (const answer of answers.filter((a) => a.status === 200)) expect(answer.body.created).toBe(false);
  // A retry later is a 200 with the same run; another key is another run.
  const retry = await trigger(server, "release-1.4");
  expect(retry).toMatchObject({ status: 200, body: { created: false, run: { id: created.body.run.id } } });
  expect((await trigger(server, "release-1.5")).status).toBe(201);
  const runs = (await (await fetch(`${server.url}/v1/runs`)).json()) as { runs: unknown[] };
  expect(runs.runs).toHaveLength(2);
}

describe("Idempotency-Key over HTTP", () => {
  test("SQLite: of ten concurrent requests with one key exactly one answers 201; the rest and a later retry answer 200 with the same run", async () => {
    const server = await startServe();
    servers.push(server);
    await tenAtOnce(server);
  });

  test.skipIf(!pgAvailable)("PostgreSQL: of ten concurrent requests with one key exactly one answers 201; the rest and a later retry answer 200 with the same run", async () => {
    const schema = `fct_idem_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    schemas.push(schema);
    const server = await startServe([], { db: pgUrl(schema) });
    servers.push(server);
    await tenAtOnce(server);
  });
});
