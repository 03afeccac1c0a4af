/** GET /metrics in the Prometheus text format, over a real loopback server. */
import { describe, expect, test } from "bun:test";
import { PrometheusText } from "../src/api/prometheus.ts";
import { loadWorkflows } from "../src/engine/registry.ts";
import { attemptWith, workflow } from "./engine-helpers.ts";
import { startApiServer } from "./fixtures/apiServer.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the text exposition format strictly: every line is `# HELP name
 * text`, `# TYPE name type` or `name{label="value",...} number`; a sample
 * belongs to a family declared before it (a histogram's as _bucket, _sum,
 * _count); labels are unescaped. Throws naming the first line that is not.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const sample = new RegExp(`^(${NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (-?[0-9.e+-]+|\\+Inf|-Inf|NaN)$`);
  for (const line of text.slice(0, -1).split("\n")) {
    let match: RegExpExecArray | null;
    if ((match = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line))) {
      helps.add(match[1]!);
      continue;
    }
    if ((match = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      if (!helps.has(match[1]!)) throw new Error(`TYPE before HELP: ${line}`);
      if (types.has(match[1]!)) throw new Error(`family declared twice: ${line}`);
      types.set(match[1]!, match[2]!);
      continue;
    }
    match = sample.exec(line);
    if (!match) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", value] = match;
    const family = types.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, "");
    if (!types.has(family) || (family !== name && types.get(family) !== "histogram")) throw new Error(`sample of an undeclared family: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = raw!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    samples.push({ name: name!, labels, value: value === "+Inf" ? Infinity : Number(value) });
  }
  return { types, samples };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;
}

/** Every histogram series: buckets cumulative, `le` ascending, ending at +Inf equal to _count. */
function checkHistograms(types: Map<string, string>, samples: Sample[]) {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
      expect(bounds.at(-1)).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(valueOf(samples, `${family}_count`, JSON.parse(key))).toBe(buckets.at(-1)!.value);
    }
  }
}

async function scrape(s: ReturnType<typeof startApiServer>) {
  const response = await s.call("GET", "/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const parsed = parseExposition(await response.text());
  checkHistograms(parsed.types, parsed.samples);
  return parsed;
}

describe("GET /metrics", () => {
  test("an empty database: every family declared, run and task states at zero, the text format valid", async () => {
    const s = startApiServer(await loadWorkflows({ cwd: "/" }));
    const { types, samples } = await scrape(s);
    expect(types.get("farcaster_tasks")).toBe("gauge");
    expect(types.get("farcaster_task_claims_total")).toBe("counter");
    expect(types.get("farcaster_attempt_duration_seconds")).toBe("histogram");
    expect(types.get("farcaster_gate_wait_seconds")).toBe("histogram");
    expect(valueOf(samples, "farcaster_tasks", { state: "ready" })).toBe(0);
    expect(valueOf(samples, "farcaster_runs", { state: "running" })).toBe(0);
    expect(valueOf(samples, "farcaster_task_claims_total")).toBe(0);
    expect(valueOf(samples, "farcaster_gate_oldest_pending_seconds")).toBe(0);
  });

  test("values for a known run: tasks by state, claims, completions, attempt latency, a pending gate's wait, schedule decisions", async () => {
    const registry = await loadWorkflows({ cwd: "/" });
    const s = startApiServer(registry);
    registry.register(
      workflow("timed", async (ctx) => {
        await ctx.step("fetch", async () => s.clock.advance(40));
        await ctx.step("build", async () => s.clock.advance(3_000));
        return null;
      }),
    );
    const plan = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "timed" }, { id: "b", title: "B", workflow: "noop", after: ["a"] }] };
    expect((await s.call("POST", "/v1/runs", { body: { workplan: plan } })).status).toBe(201);
    while (await attemptWith(s.store, s.clock, registry)) {}
    // A second run held at a gate for 90 s.
    const gated = await s.store.createRun({ goal: "h", tasks: [{ id: "ask", title: "Ask", workflow: "noop" }] });
    const [claimed] = await s.store.claimTasks("w", 10, 10_000);
    expect(claimed!.runId).toBe(gated.id);
    await s.store.suspendTask(claimed!.taskId, claimed!.attemptId, { reason: "approval", gate: { id: "g-1", stepKey: "ok", question: "Ship?", askedBy: "w" } });
    s.clock.advance(90_000);
    const schedule = await s.call("POST", "/v1/schedules", { body: { name: "nightly", cron: "0 3 * * *", goal: "# N\n\n## a: A\nrun: true\n", overlap: "skip" } });
    expect(schedule.status).toBe(201);
    expect((await s.call("POST", "/v1/schedules/nightly/run")).status).toBe(201);
    expect(((await (await s.call("POST", "/v1/schedules/nightly/run")).json()) as any).outcome).toBe("skipped");

    const { samples } = await scrape(s);
    expect(valueOf(samples, "farcaster_runs", { state: "succeeded" })).toBe(1);
    expect(valueOf(samples, "farcaster_runs", { state: "running" })).toBe(1);
    // The first run: its planning task, a and b; the gated run's task; the scheduled run's planning task.
    expect(valueOf(samples, "farcaster_tasks", { state: "succeeded" })).toBe(3);
    expect(valueOf(samples, "farcaster_tasks", { state: "waiting" })).toBe(1);
    expect(valueOf(samples, "farcaster_tasks", { state: "ready" })).toBe(1);
    expect(valueOf(samples, "farcaster_tasks_by_workflow", { workflow: "timed", state: "succeeded" })).toBe(1);
    expect(valueOf(samples, "farcaster_task_claims_total")).toBe(4);
    expect(valueOf(samples, "farcaster_task_completions_total", { outcome: "succeeded" })).toBe(3);
    expect(valueOf(samples, "farcaster_task_completions_total", { outcome: "failed" })).toBe(0);
    expect(valueOf(samples, "farcaster_lease_expiries_total")).toBe(0);
    expect(valueOf(samples, "farcaster_attempts_ended_total", { state: "suspended" })).toBe(1);
    expect(valueOf(samples, "farcaster_gates_pending")).toBe(1);
    expect(valueOf(samples, "farcaster_gate_oldest_pending_seconds")).toBe(90);
    expect(valueOf(samples, "farcaster_schedule_decisions_total", { schedule: "nightly", decision: "fired" })).toBe(1);
    expect(valueOf(samples, "farcaster_schedule_decisions_total", { schedule: "nightly", decision: "skipped" })).toBe(1);
    // a's one attempt held it for its two steps, 40 ms then 3 s: 3.04 s, under the 5 s bound; b's took no time.
    const timed = { workflow: "timed", state: "succeeded" };
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_bucket", { ...timed, le: "2.5" })).toBe(0);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_bucket", { ...timed, le: "5" })).toBe(1);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_bucket", { ...timed, le: "+Inf" })).toBe(1);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_count", timed)).toBe(1);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_sum", timed)).toBe(3.04);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_bucket", { workflow: "noop", state: "succeeded", le: "0.005" })).toBe(1);
    expect(valueOf(samples, "farcaster_attempt_duration_seconds_count", { workflow: "noop", state: "suspended" })).toBe(1);
    expect(valueOf(samples, "farcaster_events_total", { type: "gate.opened" })).toBe(1);
  });

  test("no counter or histogram sample goes down when a failed task is retried and its run resumed over HTTP", async () => {
    const registry = await loadWorkflows({ cwd: "/" });
    const s = startApiServer(registry);
    registry.register(
      workflow("flaky", async (ctx) => {
        await ctx.step("call", async () => {
          s.clock.advance(25);
          throw new Error("upstream down");
        });
        return null;
      }),
    );
    /** Every sample of a counter or histogram family, by name and labels. */
    const monotonic = async () => {
      const { types, samples } = await scrape(s);
      const out = new Map<string, number>();
      for (const sample of samples) {
        const family = types.has(sample.name) ? sample.name : sample.name.replace(/_(bucket|sum|count)$/, "");
        if (types.get(family) === "counter" || types.get(family) === "histogram") out.set(`${sample.name}${JSON.stringify(sample.labels)}`, sample.value);
      }
      return out;
    };
    const decreased = (before: Map<string, number>, after: Map<string, number>) =>
      [...before].filter(([key, value]) => !((after.get(key) ?? -Infinity) >= value)).map(([key, value]) => `${key}: ${value} -> ${after.get(key) ?? "gone"}`);

    const created = await s.call("POST", "/v1/runs", { body: { workplan: { goal: "g", tasks: [{ id: "a", title: "A", workflow: "flaky", retries: 2 }] } } });
    expect(created.status).toBe(201);
    const runId = ((await created.json()) as any).run.id;
    const first = await monotonic();
    for (let attempts = 0; attempts < 3; attempts++) {
      while (await attemptWith(s.store, s.clock, registry)) {}
      s.clock.advance(60_000); // past the retry backoff
    }
    expect((await s.store.getRun(runId)).state).toBe("failed");
    const failed = await monotonic();
    expect(decreased(first, failed)).toEqual([]);
    expect(failed.get('farcaster_task_retries_total{}')).toBe(2);
    expect(failed.get('farcaster_attempt_duration_seconds_count{"workflow":"flaky","state":"failed"}')).toBe(3);

    expect((await s.call("POST", `/v1/runs/${runId}/resume`)).status).toBe(200);
    const resumed = await monotonic();
    expect(decreased(failed, resumed)).toEqual([]);
  });

  test("needs the bearer token when the server has one, like /v1; /healthz and /openapi.json do not", async () => {
    const s = startApiServer(await loadWorkflows({ cwd: "/" }), { token: "s3cret" });
    const bare = await fetch(`${s.url}/metrics`);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as any).error.code).toBe("unauthorized");
    const wrong = await fetch(`${s.url}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect((await s.call("GET", "/metrics")).status).toBe(200);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/openapi.json`)).status).toBe(200);
  });

  test("label values and help text are escaped so any name stays one valid line", () => {
    const text = new PrometheusText().metric("x_total", "counter", "a help\nwith \\ a line feed", [{ labels: { name: 'say "hi"\\\nbye' }, value: 2 }]).toString();
    expect(text).toBe('# HELP x_total a help\\nwith \\\\ a line feed\n# TYPE x_total counter\nx_total{name="say \\"hi\\"\\\\\\nbye"} 2\n');
    expect(parseExposition(text).samples).toEqual([{ name: "x_total", labels: { name: 'say "hi"\\\nbye' }, value: 2 }]);
  });
});
