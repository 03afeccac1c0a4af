/**
 * A seeded fuzz pass over the edges: a few hundred malformed HTTP requests to
 * a real `farcaster serve` on loopback (random JSON, wrong types, huge
 * strings, deep nesting, invalid UTF-8, bad or missing tokens, oversize
 * bodies, unknown ids, every route), then mutated workplans and goal files
 * through the real CLI. Never a 5xx, never a crash or a stack trace, /healthz
 * still answers, and nothing half-written: the runs and tasks afterwards are
 * exactly those the 201s reported.
 *
 * Deterministic: the seed is printed; FARCASTER_FUZZ_SEED=<n> replays a run.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { farcaster, REPO } from "./cli-helpers.ts";
import { startServe, type ServeProcess } from "./fixtures/serve.ts";
import { dropSchema, pgAvailable, pgUrl } from "./fixtures/pg.ts";
import { freshDir } from "./helpers.ts";

const SEED = Number(process.env.FARCASTER_FUZZ_SEED ?? 20_261_125) >>> 0;
const TOKEN = "fuzz-token";
const REQUESTS = 320;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof prng>;

const deepText = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const deepArray = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

/** A random JSON value, a few levels deep at most. */
function randomValue(rng: Rng, depth = 0): unknown {
  const kind = rng.int(depth > 3 ? 6 : 8);
  switch (kind) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 42]);
    case 3: return rng.pick(["", "a", "💥", "\u0000", "x".repeat(rng.int(300)), "../../etc/passwd", "<script>", "1d", "30d", "-5s"]);
    case 4: return "s".repeat(rng.int(20));
    case 5: return rng.pick(["true", "null", "{}", "[]"]);
    case 6: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) out[rng.pick(["goal", "goalFile", "workplan", "review", "data", "by", "reason", "action", "name", "cron", "x", "__proto__", "constructor"])] = randomValue(rng, depth + 1);
      return out;
    }
  }
}

/** Plausible bodies for each route, which the fuzzer then breaks. */
function plausibleBody(rng: Rng, route: string, goalFiles: string[]): unknown {
  const plan = { goal: "g", tasks: [{ id: "a", title: "A", workflow: rng.pick(["noop", "shell", "nope"]), input: rng.pick([{}, { command: "true" }, randomValue(rng)]), after: rng.pick([[], ["a"], ["b"], "a"]) }] };
  if (route === "POST /v1/runs") {
    return rng.pick([{ goal: "# g\n\n## a: A\nrun: true\n" }, { goalFile: rng.pick(goalFiles) }, { workplan: plan }, { goal: "# g\n\n## a: A\ntimeout: 30d\nrun: true\n", review: rng.pick([true, "yes", 1]) }]);
  }
  if (route === "POST /v1/schedules") return { name: rng.pick(["n1", "bad name", "x".repeat(100), ""]), cron: rng.pick(["0 9 * * *", "61 * * * *", "nonsense", ""]), goalFile: rng.pick(goalFiles) };
  if (route.endsWith("/reject")) return { reason: rng.pick(["no", "", 42]), action: rng.pick(["retry", "fail", "explode"]) };
  if (route.startsWith("POST /v1/events")) return { data: randomValue(rng) };
  return rng.chance(0.5) ? {} : { by: randomValue(rng) };
}

function mutateObject(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const key = keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : rng.pick(["extra", "goal", "data"]);
  copy[key] = randomValue(rng);
  return copy;
}

type Body = string | Uint8Array | undefined;

/** One malformed (or occasionally fine) body for a route. */
function fuzzBody(rng: Rng, route: string, goalFiles: string[]): { body: Body; kind: string } {
  const plausible = plausibleBody(rng, route, goalFiles);
  switch (rng.int(12)) {
    case 0: return { body: undefined, kind: "none" };
    case 1: return { body: JSON.stringify(randomValue(rng)), kind: "random json" };
    case 2: return { body: JSON.stringify(mutateObject(rng, plausible)), kind: "wrong types" };
    case 3: return { body: JSON.stringify({ ...(plausible as object), goal: "x".repeat(200_000 + rng.int(600_000)) }), kind: "huge string" };
    case 4: return { body: `{"data":${deepText(20_000 + rng.int(30_000))},"goal":"g"}`, kind: "deep object" };
    case 5: return { body: `{"workplan":{"goal":"g","tasks":[{"id":"a","title":"A","workflow":"noop","input":${deepArray(20_000 + rng.int(30_000))}}]}}`, kind: "deep input" };
    case 6: return { body: new Uint8Array([0x7b, 0x22, 0x67, 0x6f, 0x61, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), kind: "invalid utf-8" };
    case 7: return { body: "x".repeat(1024 * 1024 + 1 + rng.int(1000)), kind: "oversize" };
    case 8: {
      const text = JSON.stringify(plausible);
      return { body: text.slice(0, rng.int(text.length)), kind: "truncated" };
    }
    case 9: return { body: rng.pick(["null", "[]", "\"str\"", "42", "{\"__proto__\":{\"polluted\":1}}", "\u0000"]), kind: "odd json" };
    default: return { body: JSON.stringify(plausible), kind: "plausible" };
  }
}

const ROUTES = [
  "POST /v1/runs", "GET /v1/runs", "GET /v1/runs/:run", "POST /v1/runs/:run/cancel", "POST /v1/runs/:run/resume", "GET /v1/runs/:run/events",
  "GET /v1/runs/:run/tasks/:task/journal", "GET /v1/gates", "GET /v1/gates/:gate", "POST /v1/gates/:gate/approve", "POST /v1/gates/:gate/reject",
  "POST /v1/events/:name", "GET /v1/schedules", "POST /v1/schedules", "GET /v1/schedules/:schedule", "POST /v1/schedules/:schedule/pause",
  "POST /v1/schedules/:schedule/resume", "POST /v1/schedules/:schedule/run", "DELETE /v1/schedules/:schedule", "GET /v1", "PUT /v1/runs", "GET /v1/nope",
] as const;

interface Known {
  runs: string[];
  gates: string[];
  schedules: string[];
}

function fillPath(rng: Rng, template: string, known: Known): string {
  const odd = () => rng.pick(["nope", "%00", "..%2F..%2Fetc", "💥", "x".repeat(3000), "' OR 1=1 --", "%ZZ", "-1"]);
  return template
    .replace(":run", () => (rng.chance(0.6) && known.runs.length ? rng.pick(known.runs) : odd()))
    .replace(":task", () => rng.pick(["a", "@plan", "nope"]))
    .replace(":gate", () => (rng.chance(0.5) && known.gates.length ? rng.pick(known.gates) : odd()))
    .replace(":schedule", () => (rng.chance(0.5) && known.schedules.length ? rng.pick(known.schedules) : odd()))
    .replace(":name", () => rng.pick(["deploy", "a/b:c", "bad name", "", "x".repeat(300)]))
    + (rng.chance(0.2) ? rng.pick(["?limit=abc", "?limit=-1", "?limit=99999", "?after=x", "?unfinished=maybe", "?all=true", "?%zz"]) : "");
}

interface Answer {
  what: string;
  status: number;
  contentType: string;
  text: string;
  /** The run this request created, if it did. */
  created?: string;
}

async function send(server: ServeProcess, rng: Rng, known: Known, goalFiles: string[]): Promise<Answer> {
  const route = rng.pick(ROUTES);
  const [method, template] = route.split(" ") as [string, string];
  const path = fillPath(rng, template, known);
  const headers: Record<string, string> = { "content-type": rng.pick(["application/json", "application/json", "text/plain", "application/x-www-form-urlencoded"]) };
  const auth = rng.int(10);
  if (auth < 8) headers.authorization = `Bearer ${TOKEN}`;
  else if (auth === 8) headers.authorization = rng.pick(["Bearer wrong", "Basic Zm9vOmJhcg==", "Bearer ", `Bearer ${TOKEN}x`]);
  if (rng.chance(0.15)) headers["idempotency-key"] = rng.pick(["k1", "k2", "x".repeat(300), " "]);
  if (rng.chance(0.1)) headers["last-event-id"] = rng.pick(["-1", "abc", "1e3", "0"]);
  const { body, kind } = method === "GET" || method === "DELETE" ? { body: undefined, kind: "none" } : fuzzBody(rng, route, goalFiles);
  const what = `${method} ${path.slice(0, 120)} (${kind}, auth ${auth})`;
  const controller = new AbortController();
  const response = await fetch(server.url + path, { method, headers, body, signal: controller.signal });
  const contentType = response.headers.get("content-type") ?? "";
  // An event stream stays open while its run does: its headers are the answer.
  if (contentType.startsWith("text/event-stream")) {
    controller.abort();
    return { what, status: response.status, contentType, text: "" };
  }
  const text = await response.text();
  // What created a run says so: a trigger (201 with the run) or a schedule fired by hand (201 with its id).
  const created = response.status === 201 && method === "POST" ? (template === "/v1/runs" ? (JSON.parse(text) as { run: { id: string } }).run.id : template.endsWith("/run") ? (JSON.parse(text) as { runId: string }).runId : undefined) : undefined;
  return { what, status: response.status, contentType, text, ...(created ? { created } : {}) };
}

/** Mutations of a text: drop, repeat or replace a slice, insert odd bytes, truncate. */
function mutateText(rng: Rng, text: Buffer): Buffer {
  let out = text;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(out.length + 1);
    const len = rng.int(Math.min(200, out.length - at + 1));
    const pieces = [
      () => Buffer.concat([out.subarray(0, at), out.subarray(at + len)]),
      () => Buffer.concat([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)]),
      () => Buffer.concat([out.subarray(0, at), Buffer.from([0xff, 0xfe, 0x00, 0xc3]), out.subarray(at)]),
      () => Buffer.concat([out.subarray(0, at), Buffer.from(rng.pick(["\n## x: X\n", "\nafter: x, y\n", "\ntimeout: 99999d\n", "\ninput: " + deepText(5_000) + "\n", "\n```json\n{", "}", "\nretries: -1\n"])), out.subarray(at)]),
      () => out.subarray(0, at),
    ];
    out = rng.pick(pieces)();
  }
  return out;
}

interface Target {
  server: ServeProcess;
  known: Known;
  goalFiles: string[];
  rng: Rng;
}

/** A real `serve` on `db` (a file, or a PostgreSQL schema), with goal files to point at and something to find. */
async function startTarget(db: string | undefined): Promise<Target> {
  // The same seed for each store: both meet the same requests.
  const rng = prng(SEED);
  const known: Known = { runs: [], gates: [], schedules: [] };
  const goalFiles: string[] = [];
  const dir = freshDir();
  const site = readFileSync(join(REPO, "examples/site/goal.md"));
  const inventory = readFileSync(join(REPO, "examples/inventory.json"));
  for (let i = 0; i < 6; i++) {
    const [name, source] = i % 2 ? [`m${i}.json`, inventory] : [`m${i}.md`, site];
    writeFileSync(join(dir, name), mutateText(rng, source));
    goalFiles.push(name);
  }
  Bun.spawnSync(["mkfifo", join(dir, "pipe.md")]);
  symlinkSync("/etc/hostname", join(dir, "link.md"));
  goalFiles.push("pipe.md", "link.md", "/dev/zero", "/proc/self/mem", "../../etc/passwd", "missing.md", ".");
  const server = await startServe([], { dir, db, env: { FARCASTER_TOKEN: TOKEN } });
  // Something to find: a run waiting at a gate, and a schedule.
  const call = (method: string, path: string, body: unknown) =>
    fetch(server.url + path, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
  known.runs.push((await call("POST", "/v1/runs", { workplan: { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }] } })).run.id);
  known.schedules.push((await call("POST", "/v1/schedules", { name: "fuzzed", cron: "0 9 * * *", goal: "# g\n\n## a: A\nrun: true\n" })).schedule.name);
  known.gates.push("g-nope");
  return { server, known, goalFiles, rng };
}

const targets: Target[] = [];
let pgSchema: string | undefined;

beforeAll(() => {
  console.log(`fuzz seed ${SEED} (replay with FARCASTER_FUZZ_SEED=${SEED})`);
});

afterAll(async () => {
  for (const target of targets.splice(0)) await target.server.stop();
  if (pgSchema) await dropSchema(pgSchema);
});

/** The HTTP pass against one store; PostgreSQL's text refuses what SQLite's keeps (a NUL), so both are fuzzed. */
async function fuzzHttp(db: string | undefined): Promise<void> {
  const target = await startTarget(db);
  targets.push(target);
  const { server, known, goalFiles, rng } = target;
  const answers: Answer[] = [];
  for (let sent = 0; sent < REQUESTS; sent += 8) {
    // A batch picks ids from what was known before it, and learns the runs it created in the order
    // the requests were sent, not the order the answers came back in: a seed replays exactly.
    const batch = await Promise.all(Array.from({ length: 8 }, () => send(server, rng, known, goalFiles)));
    for (const answer of batch) if (answer.created) known.runs.push(answer.created);
    answers.push(...batch);
  }
  const failures = answers.filter((a) => a.status >= 500 || (a.status >= 400 && !/"error":\{"code":"[a-z_]+","message":"/.test(a.text)));
  expect(failures.map((a) => `${a.what} -> ${a.status} ${a.text.slice(0, 200)}`)).toEqual([]);
  expect(new Set(answers.map((a) => a.status)).size).toBeGreaterThan(5); // the fuzzer reached many kinds of answer
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  // Nothing half-written: the runs are exactly those created, each with the tasks it counts.
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const { runs } = (await (await fetch(`${server.url}/v1/runs?limit=500`, auth)).json()) as { runs: { id: string; tasksTotal: number }[] };
  expect(runs.map((r) => r.id).sort()).toEqual([...new Set(known.runs)].sort());
  for (const run of runs) {
    const { tasks } = (await (await fetch(`${server.url}/v1/runs/${run.id}`, auth)).json()) as { tasks: unknown[] };
    expect({ run: run.id, tasks: tasks.length }).toEqual({ run: run.id, tasks: run.tasksTotal });
  }
  const log = server.log();
  expect(log).not.toContain("unexpected error");
  expect(log).not.toMatch(/^\s+at /m);
}

describe(`fuzzing (seed ${SEED})`, () => {
  test(`${REQUESTS} malformed requests over real HTTP: never a 5xx, always a JSON error, nothing half-written, /healthz still answers`, () => fuzzHttp(undefined), 30_000);

  test.skipIf(!pgAvailable)(`the same ${REQUESTS} requests against PostgreSQL (a NUL and friends meet its text): never a 5xx, nothing half-written`, async () => {
    pgSchema = `fct_fuzz_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await fuzzHttp(pgUrl(pgSchema));
  }, 30_000);

  test("mutated workplans and goal files through the real CLI: exit 0, 1 or 2 with a message, never a crash or a stack trace", async () => {
    const rng = prng((SEED + 1) >>> 0); // its own sequence: the HTTP passes may or may not run before it
    const dir = freshDir();
    const sources = [readFileSync(join(REPO, "examples/site/goal.md")), readFileSync(join(REPO, "examples/inventory.json"))];
    const files = Array.from({ length: 12 }, (_, i) => {
      const name = `g${i}.${i % 2 ? "json" : "md"}`;
      writeFileSync(join(dir, name), mutateText(rng, sources[i % 2]!));
      return name;
    });
    const results: { file: string; code: number; stdout: string; stderr: string }[] = [];
    for (let i = 0; i < files.length; i += 4) {
      const batch = files.slice(i, i + 4);
      const ran = await Promise.all(batch.map((file) => farcaster(["plan", file, "--json"], { cwd: dir })));
      ran.forEach((r, j) => results.push({ file: batch[j]!, code: r.code, stdout: r.stdout, stderr: r.stderr }));
    }
    for (const r of results) {
      const where = `${r.file} (seed ${SEED})`;
      expect({ where, code: [0, 1, 2].includes(r.code) }).toEqual({ where, code: true });
      expect({ where, out: r.stdout + r.stderr }).not.toEqual({ where, out: expect.stringMatching(/unexpected error|RangeError|^\s+at /m) });
      if (r.code === 0) JSON.parse(r.stdout);
      else {
        // With --json an error is one JSON object on stderr (its last line): a code and a message.
        const error = (JSON.parse(r.stderr.trimEnd().split("\n").at(-1)!) as { error: { code: unknown; message: unknown } }).error;
        expect({ where, code: typeof error.code, message: typeof error.message }).toEqual({ where, code: "string", message: "string" });
      }
    }
  }, 30_000);
});
