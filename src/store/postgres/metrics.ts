/** readMetrics on PostgreSQL: the same answers as sqlite/metrics.ts, read in one snapshot (see ../metrics.ts). */
import type { SQL } from "bun";
import type { EventType } from "../../core/events.ts";
import type { AttemptState, GateState, RunState, TaskState } from "../../core/states.ts";
import { bucketCase, checkBounds, decisionOf, foldHistograms, SCHEDULE_DECISION_EVENTS, type BucketRow } from "../metrics.ts";
import type { MetricsOptions, MetricsSnapshot } from "../types.ts";
import { jsonb, num, q } from "./sqlText.ts";

type Int8 = string;
type RawBucketRow<L extends string> = Record<L, string> & { bucket: number; n: Int8; sum: Int8 };

const toBucketRow = <L extends string>(row: RawBucketRow<L>): BucketRow<L> => ({ ...row, n: num(row.n), sum: num(row.sum) });

export async function selectMetrics(sql: SQL, options: MetricsOptions): Promise<MetricsSnapshot> {
  checkBounds("attemptBucketsMs", options.attemptBucketsMs);
  checkBounds("gateBucketsMs", options.gateBucketsMs);
  const runs: MetricsSnapshot["runs"] = {};
  for (const row of await q<{ state: RunState; n: Int8 }>(sql, "SELECT state, count(*) AS n FROM runs GROUP BY state")) runs[row.state] = num(row.n);

  const tasks = (await q<{ workflow: string; state: TaskState; count: Int8 }>(sql, "SELECT workflow, state, count(*) AS count FROM tasks GROUP BY workflow, state ORDER BY workflow COLLATE \"C\", state COLLATE \"C\"")).map(
    (row) => ({ workflow: row.workflow, state: row.state, count: num(row.count) }),
  );

  let claims = 0;
  const attemptsEnded: MetricsSnapshot["attemptsEnded"] = {};
  for (const row of await q<{ state: AttemptState; n: Int8 }>(sql, "SELECT state, count(*) AS n FROM attempts GROUP BY state")) {
    claims += num(row.n);
    if (row.state !== "running") attemptsEnded[row.state] = num(row.n);
  }

  const events: MetricsSnapshot["events"] = {};
  for (const row of await q<{ type: EventType; n: Int8 }>(sql, "SELECT type, count(*) AS n FROM events GROUP BY type")) events[row.type] = num(row.n);

  const schedules = (
    await q<{ type: string; schedule: string; count: Int8; slots: Int8 }>(
      sql,
      `SELECT type, schedule, count(*) AS count, sum(slots) AS slots
       FROM (SELECT type, j->>'schedule' AS schedule,
               CASE WHEN type = 'schedule.missed' THEN coalesce((j->>'missed')::bigint, 0) ELSE 1 END AS slots
             FROM (SELECT type, ${jsonb("data")} AS j FROM events WHERE type = ANY($1::text[])) e) d
       GROUP BY type, schedule ORDER BY schedule COLLATE "C", type COLLATE "C"`,
      [Object.values(SCHEDULE_DECISION_EVENTS)],
    )
  ).map((row) => ({ schedule: row.schedule, decision: decisionOf(row.type), count: num(row.count), slots: num(row.slots) }));

  const [pending] = await q<{ n: Int8; oldest: Int8 | null }>(sql, "SELECT count(*) AS n, min(created_at) AS oldest FROM gates WHERE state = 'pending'");

  const bound = (i: number) => `$${i + 1}::bigint`;
  // Gates of runs only: removing a schedule deletes its approval gate (see ../metrics.ts).
  const gateRows = await q<RawBucketRow<"state">>(
    sql,
    `SELECT state, ${bucketCase("d", options.gateBucketsMs, bound)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT state, greatest(0, decided_at - created_at) AS d FROM gates WHERE run_id IS NOT NULL AND state != 'pending' AND decided_at IS NOT NULL) w
     GROUP BY state, bucket`,
    [...options.gateBucketsMs],
  );
  const gateWaits = foldHistograms(gateRows.map(toBucketRow), ["state"], options.gateBucketsMs).map(({ labels, histogram }) => ({ state: labels.state as Exclude<GateState, "pending">, histogram }));

  const attemptRows = await q<RawBucketRow<"workflow" | "state">>(
    sql,
    `SELECT workflow, state, ${bucketCase("d", options.attemptBucketsMs, bound)} AS bucket, count(*) AS n, sum(d) AS sum
     FROM (SELECT t.workflow, a.state, greatest(0, a.ended_at - a.started_at) AS d FROM attempts a JOIN tasks t ON t.id = a.task_id
           WHERE a.state != 'running' AND a.ended_at IS NOT NULL) s
     GROUP BY workflow, state, bucket`,
    [...options.attemptBucketsMs],
  );
  const attemptDurations = foldHistograms(attemptRows.map(toBucketRow), ["workflow", "state"], options.attemptBucketsMs).map(({ labels, histogram }) => ({
    workflow: labels.workflow,
    state: labels.state as Exclude<AttemptState, "running">,
    histogram,
  }));

  return { runs, tasks, claims, attemptsEnded, events, schedules, gatesPending: num(pending!.n), oldestPendingGateAt: num(pending!.oldest), gateWaits, attemptDurations };
}
