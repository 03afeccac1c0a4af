/** readMetrics on SQLite: whole-table aggregates, read in one snapshot (see ../metrics.ts). */
import type { EventType } from "../../core/events.ts";
import type { AttemptState, GateState, RunState, TaskState } from "../../core/states.ts";
import { bucketCase, checkBounds, decisionOf, foldHistograms, SCHEDULE_DECISION_EVENTS, type BucketRow } from "../metrics.ts";
import type { MetricsOptions, MetricsSnapshot } from "../types.ts";
import type { TxContext } from "./context.ts";
import { sql } from "./statements.ts";

const placeholder = () => "?";

export function selectMetrics(ctx: TxContext, options: MetricsOptions): MetricsSnapshot {
  checkBounds("stepBucketsMs", options.stepBucketsMs);
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

  const gateRows = sql<BucketRow, number[]>(
    ctx.db,
    `SELECT state AS label, ${bucketCase("d", options.gateBucketsMs, placeholder)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT state, decided_at - created_at AS d FROM gates WHERE state != 'pending' AND decided_at IS NOT NULL) GROUP BY label, bucket`,
  ).all(...options.gateBucketsMs);
  const gateWaits = [...foldHistograms(gateRows, options.gateBucketsMs)].map(([state, histogram]) => ({ state: state as Exclude<GateState, "pending">, histogram }));

  const stepRows = sql<BucketRow, number[]>(
    ctx.db,
    `SELECT kind AS label, ${bucketCase("d", options.stepBucketsMs, placeholder)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT kind, ended_at - started_at AS d FROM steps WHERE status != 'waiting' AND ended_at IS NOT NULL) GROUP BY label, bucket`,
  ).all(...options.stepBucketsMs);
  const stepDurations = [...foldHistograms(stepRows, options.stepBucketsMs)].map(([kind, histogram]) => ({ kind, histogram }));

  return { runs, tasks, claims, attemptsEnded, events, schedules, gatesPending: pending.n, oldestPendingGateAt: pending.oldest, gateWaits, stepDurations };
}
