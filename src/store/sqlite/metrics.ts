/** readMetrics on SQLite: whole-table aggregates, read in one snapshot (see ../metrics.ts). */
import type { EventType } from "../../core/events.ts";
import type { AttemptState, GateState, RunState, TaskState } from "../../core/states.ts";
import { bucketCase, checkBounds, decisionOf, foldHistograms, SCHEDULE_DECISION_EVENTS, type BucketRow } from "../metrics.ts";
import type { MetricsOptions, MetricsSnapshot } from "../types.ts";
import type { TxContext } from "./context.ts";
import { sql } from "./statements.ts";

const placeholder = () => "?";

export function selectMetrics(ctx: TxContext, options: MetricsOptions): MetricsSnapshot {
  checkBounds("attemptBucketsMs", options.attemptBucketsMs);
  checkBounds("gateBucketsMs", options.gateBucketsMs);
  const runs: MetricsSnapshot["runs"] = {};
  for (const row of sql<{ state: RunState; n: number }, []>(ctx.db, "SELECT state, count(*) AS n FROM runs GROUP BY state").all()) runs[row.state] = row.n;

  const tasks = sql<{ workflow: string; state: TaskState; count: number }, []>(
    ctx.db,
    "SELECT workflow, state, count(*) AS count FROM tasks GROUP BY workflow, state ORDER BY workflow, state",
  ).all();

  let claims = 0;
  const attemptsEnded: MetricsSnapshot["attemptsEnded"] = {};
  for (const row of sql<{ state: AttemptState; n: number }, []>(ctx.db, "SELECT state, count(*) AS n FROM attempts GROUP BY state").all()) {
    claims += row.n;
    if (row.state !== "running") attemptsEnded[row.state] = row.n;
  }

  const events: MetricsSnapshot["events"] = {};
  for (const row of sql<{ type: EventType; n: number }, []>(ctx.db, "SELECT type, count(*) AS n FROM events GROUP BY type").all()) events[row.type] = row.n;

  const decisionTypes = Object.values(SCHEDULE_DECISION_EVENTS);
  const schedules = sql<{ type: string; schedule: string; count: number; slots: number }, string[]>(
    ctx.db,
    `SELECT type, json_extract(data, '$.schedule') AS schedule, count(*) AS count,
       sum(CASE WHEN type = 'schedule.missed' THEN coalesce(json_extract(data, '$.missed'), 0) ELSE 1 END) AS slots
     FROM events WHERE type IN (${decisionTypes.map(placeholder).join(", ")}) GROUP BY type, schedule ORDER BY schedule, type`,
  )
    .all(...decisionTypes)
    .map((row) => ({ schedule: row.schedule, decision: decisionOf(row.type), count: row.count, slots: row.slots }));

  const pending = sql<{ n: number; oldest: number | null }, []>(ctx.db, "SELECT count(*) AS n, min(created_at) AS oldest FROM gates WHERE state = 'pending'").get()!;

  // Gates of runs only: removing a schedule deletes its approval gate (see ../metrics.ts).
  const gateRows = sql<BucketRow<"state">, number[]>(
    ctx.db,
    `SELECT state, ${bucketCase("d", options.gateBucketsMs, placeholder)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT state, max(0, decided_at - created_at) AS d FROM gates WHERE run_id IS NOT NULL AND state != 'pending' AND decided_at IS NOT NULL) GROUP BY state, bucket`,
  ).all(...options.gateBucketsMs);
  const gateWaits = foldHistograms(gateRows, ["state"], options.gateBucketsMs).map(({ labels, histogram }) => ({ state: labels.state as Exclude<GateState, "pending">, histogram }));

  const attemptRows = sql<BucketRow<"workflow" | "state">, number[]>(
    ctx.db,
    `SELECT workflow, state, ${bucketCase("d", options.attemptBucketsMs, placeholder)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT t.workflow, a.state, max(0, a.ended_at - a.started_at) AS d FROM attempts a JOIN tasks t ON t.id = a.task_id
           WHERE a.state != 'running' AND a.ended_at IS NOT NULL) GROUP BY workflow, state, bucket`,
  ).all(...options.attemptBucketsMs);
  const attemptDurations = foldHistograms(attemptRows, ["workflow", "state"], options.attemptBucketsMs).map(({ labels, histogram }) => ({
    workflow: labels.workflow,
    state: labels.state as Exclude<AttemptState, "running">,
    histogram,
  }));

  return { runs, tasks, claims, attemptsEnded, events, schedules, gatesPending: pending.n, oldestPendingGateAt: pending.oldest, gateWaits, attemptDurations };
}
