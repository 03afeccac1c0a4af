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

async function trigger(server: ServeProcess, key: string, body: string = JSON.stringify({ goal: GOAL })) {
  const response = await fetch(`${server.url}/v1/runs`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body,
  });
  return { status: response.status, body: (await response.json()) as { run: { id: string }; created: boolean; error?: { code: string; message: string } } };
}

/** The same key with another body is a 422 naming the key and the run it made; the same data in another key order and spacing is the same request. */
async function reusedKey(server: ServeProcess) {
  const first = await trigger(server, "deploy-7", JSON.stringify({ goal: GOAL, review: false }));
  expect(first.status).toBe(201);
  const same = await trigger(server, "deploy-7", `{ "review" : false,\n  "goal": ${JSON.stringify(GOAL)} }`);
  expect(same).toMatchObject({ status: 200, body: { created: false, run: { id: first.body.run.id } } });
  const defaulted = await trigger(server, "deploy-7", JSON.stringify({ goal: GOAL })); // review defaults to false: the same request
  expect(defaulted.status).toBe(200);
  const other = await trigger(server, "deploy-7", JSON.stringify({ goal: GOAL.replace("echo built", "echo other") }));
  expect({ status: other.status, code: other.body.error?.code, message: other.body.error?.message }).toEqual({
    status: 422,
    code: "idempotency_key_reused",
    message: `Idempotency-Key "deploy-7" was first sent with another request, which made run ${first.body.run.id}; send that same request to get the run again, or use a new key for new work`,
  });
  expect((await trigger(server, "deploy-7", JSON.stringify({ goal: GOAL, review: true }))).status).toBe(422);
  // Of concurrent requests with one key and two bodies, one creates; those with its body get its run, the others 422.
  const bodies = [JSON.stringify({ goal: "# A\n\n## a: A\nrun: echo a\n" }), JSON.stringify({ goal: "# B\n\n## b: B\nrun: echo b\n" })];
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => trigger(server, "race", bodies[i % 2])));
  const winner = answers.findIndex((a) => a.status === 201);
  expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
  answers.forEach((answer, i) => {
    const sameBody = i % 2 === winner % 2;
    expect({ i, status: answer.status }).toEqual({ i, status: sameBody ? (i === winner ? 201 : 200) : 422 });
    if (sameBody) expect(answer.body.run.id).toBe(answers[winner]!.body.run.id);
  });
  const runs = (await (await fetch(`${server.url}/v1/runs`)).json()) as { runs: unknown[] };
  expect(runs.runs).toHaveLength(2);
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

/** A server on the store of `kind`, stopped (and its schema dropped) after the test. */
async function serverOn(kind: "sqlite" | "postgres"): Promise<ServeProcess> {
  let server: ServeProcess;
  if (kind === "sqlite") server = await startServe();
  else {
    const schema = `fct_idem_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    schemas.push(schema);
    server = await startServe([], { db: pgUrl(schema) });
  }
  servers.push(server);
  return server;
}

describe("Idempotency-Key over HTTP", () => {
  for (const [kind, label] of [["sqlite", "SQLite"], ["postgres", "PostgreSQL"]] as const) {
    test.skipIf(kind === "postgres" && !pgAvailable)(`${label}: the same key with another request is a 422 that creates nothing; the same data in another key order is the same request`, async () => {
      await reusedKey(await serverOn(kind));
    });
  }

  for (const [kind, label] of [["sqlite", "SQLite"], ["postgres", "PostgreSQL"]] as const) {
    test.skipIf(kind === "postgres" && !pgAvailable)(`${label}: of ten concurrent requests with one key exactly one answers 201; the rest and a later retry answer 200 with the same run`, async () => {
      await tenAtOnce(await serverOn(kind));
    });
  }
});
