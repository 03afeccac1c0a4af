/**
 * GET /metrics: the whole database's totals in the Prometheus text format,
 * from one Store.readMetrics snapshot. Counters and histograms come from what
 * the store records anyway and never deletes (attempts, the gates of runs,
 * the event log), so they count the work of every drone and scheduler on the
 * database, whichever process did it, survive restarts and never go down;
 * the gauges are the tables as they are now. The journal (steps) is not a
 * source: a retry or a resume deletes steps, so a step-latency histogram
 * would go backwards.
 */
import type { Hono } from "hono";
import { systemClock } from "../core/clock.ts";
import { ATTEMPT_STATES, RUN_STATES, TASK_STATES, type TaskState } from "../core/states.ts";
import type { DurationHistogram, MetricsOptions, MetricsSnapshot } from "../store/types.ts";
import { bearerAuth } from "./auth.ts";
import { documented } from "./openapi.ts";
import type { ApiOptions } from "./options.ts";
import { PROMETHEUS_CONTENT_TYPE, PrometheusText, type HistogramSeries, type Labels } from "./prometheus.ts";

/** From a no-op task (5 ms) to a long agent task (1 h). */
export const ATTEMPT_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
/** From a quick click (10 s) to a gate left over a weekend (3 days). */
export const GATE_BUCKETS_MS = [10_000, 60_000, 300_000, 900_000, 3_600_000, 4 * 3_600_000, 12 * 3_600_000, 86_400_000, 3 * 86_400_000];

const BUCKETS: MetricsOptions = { attemptBucketsMs: ATTEMPT_BUCKETS_MS, gateBucketsMs: GATE_BUCKETS_MS };

const seconds = (ms: number) => ms / 1000;

function histogramSeries(labels: Labels, h: DurationHistogram): HistogramSeries {
  return { labels, bounds: h.boundsMs.map(seconds), cumulative: h.cumulative, count: h.count, sum: seconds(h.sumMs) };
}

export function renderMetrics(m: MetricsSnapshot, now: number): string {
  const tasksByState = new Map<TaskState, number>();
  for (const row of m.tasks) tasksByState.set(row.state, (tasksByState.get(row.state) ?? 0) + row.count);
  const events = (type: keyof MetricsSnapshot["events"]) => m.events[type] ?? 0;
  const decisions = m.schedules;
  return new PrometheusText()
    .metric("farcaster_runs", "gauge", "Runs by state now.", RUN_STATES.map((state) => ({ labels: { state }, value: m.runs[state] ?? 0 })))
    .metric("farcaster_tasks", "gauge", "Tasks by state now, the planning tasks included.", TASK_STATES.map((state) => ({ labels: { state }, value: tasksByState.get(state) ?? 0 })))
    .metric("farcaster_tasks_by_workflow", "gauge", "Tasks by workflow and state now (states with none are left out).", m.tasks.map((row) => ({ labels: { workflow: row.workflow, state: row.state }, value: row.count })))
    .metric("farcaster_task_claims_total", "counter", "Tasks leased by a drone (one attempt each).", [{ value: m.claims }])
    .metric(
      "farcaster_attempts_ended_total",
      "counter",
      "Attempts by how they ended (crashed: its lease expired).",
      ATTEMPT_STATES.filter((state) => state !== "running").map((state) => ({ labels: { state }, value: m.attemptsEnded[state] ?? 0 })),
    )
    .metric("farcaster_task_completions_total", "counter", "Tasks that ended: succeeded, or failed for good.", [
      { labels: { outcome: "succeeded" }, value: events("task.succeeded") },
      { labels: { outcome: "failed" }, value: events("task.failed") },
    ])
    .metric("farcaster_task_retries_total", "counter", "Failed attempts that scheduled a retry.", [{ value: events("task.retry_scheduled") }])
    .metric("farcaster_lease_expiries_total", "counter", "Leases that expired and were reclaimed (a drone died or hung).", [{ value: events("task.lease_expired") }])
    .metric("farcaster_gates_pending", "gauge", "Gates waiting for a person now.", [{ value: m.gatesPending }])
    .metric("farcaster_gate_oldest_pending_seconds", "gauge", "How long the longest-waiting pending gate has waited (0: none pending).", [
      { value: m.oldestPendingGateAt === null ? 0 : seconds(Math.max(0, now - m.oldestPendingGateAt)) },
    ])
    .histogram(
      "farcaster_gate_wait_seconds",
      "How long decided gates of runs (a task's, a plan's) waited for their decision, by outcome; a schedule's approval gate is not counted.",
      m.gateWaits.map((g) => histogramSeries({ outcome: g.state }, g.histogram)),
    )
    .metric(
      "farcaster_schedule_decisions_total",
      "counter",
      "Schedule slots decided, by schedule and decision (fired, skipped for overlap, failed, missed: one per catch-up).",
      decisions.map((d) => ({ labels: { schedule: d.schedule, decision: d.decision }, value: d.count })),
    )
    .metric(
      "farcaster_schedule_missed_slots_total",
      "counter",
      "Slots a schedule missed (not caught up), by schedule.",
      decisions.filter((d) => d.decision === "missed").map((d) => ({ labels: { schedule: d.schedule }, value: d.slots })),
    )
    .histogram(
      "farcaster_attempt_duration_seconds",
      "How long ended attempts held their task, from claim to end, by workflow and how the attempt ended (suspended: at a gate, a sleep or an event).",
      m.attemptDurations.map((a) => histogramSeries({ workflow: a.workflow, state: a.state }, a.histogram)),
    )
    .metric("farcaster_events_total", "counter", "Events appended to the event log, by type.", Object.entries(m.events).map(([type, value]) => ({ labels: { type }, value: value ?? 0 })))
    .toString();
}

/** Mounts GET /metrics, behind the bearer token when the server has one (the same rule as /v1). */
export function metricsRoute(app: Hono, options: ApiOptions): void {
  const clock = options.clock ?? systemClock;
  const guard = options.token ? [bearerAuth(options.token)] : [];
  app.get(
    "/metrics",
    documented({ tag: "server", summary: "Totals of the database in the Prometheus text format", produces: PROMETHEUS_CONTENT_TYPE }),
    ...guard,
    async (c) => {
      const snapshot = await options.store.readMetrics(BUCKETS);
      return c.body(renderMetrics(snapshot, clock.now()), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    },
  );
}
