/**
 * Appending a batch's events, and reading them back in order.
 *
 * Event ids double as cursors: a follower reads `id > cursor` and moves on.
 * With several writers that is only sound if ids become visible in the order
 * they were handed out, and a sequence does not promise that: a transaction
 * that took id 104 may commit after one that took 105, and a follower that
 * saw 105 would skip 104 for good. So every batch appends all its events in
 * one statement at its very end, under a transaction-level advisory lock of
 * the schema, and holds that lock to its COMMIT: the next batch takes its ids
 * only after this one's are visible (PostgreSQL makes a commit visible before
 * it releases the committer's locks). The lock is held for one INSERT and the
 * COMMIT, and batches without events (steps, heartbeats) never take it.
 */
import type { SQL } from "bun";
import type { EventRecord } from "../types.ts";
import type { PendingEvent } from "./context.ts";
import { toEvent, type EventRow } from "./rows.ts";
import { intArray, textArray } from "./arrays.ts";
import { Params, q } from "./sqlText.ts";

export async function insertEvents(sql: SQL, lockKey: number, events: readonly PendingEvent[]): Promise<void> {
  if (events.length === 0) return;
  // Sent together: the INSERT waits on the server behind the lock, without another round trip.
  await Promise.all([
    q(sql, "SELECT pg_advisory_xact_lock($1)", [lockKey]),
    q(
      sql,
      `INSERT INTO events (at, type, actor, run_id, task_id, attempt_id, data)
       SELECT e.at, e.type, e.actor, e.run_id, e.task_id, e.attempt_id, e.data
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
         WITH ORDINALITY AS e(at, type, actor, run_id, task_id, attempt_id, data, n)
       ORDER BY e.n`,
      [
        intArray(events.map((e) => e.at)),
        textArray(events.map((e) => e.type)),
        textArray(events.map((e) => e.actor)),
        textArray(events.map((e) => e.runId)),
        intArray(events.map((e) => e.taskId)),
        intArray(events.map((e) => e.attemptId)),
        textArray(events.map((e) => e.data)),
      ],
    ),
  ]);
}

export async function selectEvents(sql: SQL, options: { runId?: string; taskId?: number; afterId: number; limit: number }): Promise<EventRecord[]> {
  const p = new Params();
  const where = [`id > ${p.add(options.afterId)}`];
  if (options.runId !== undefined) where.push(`run_id = ${p.add(options.runId)}`);
  if (options.taskId !== undefined) where.push(`task_id = ${p.add(options.taskId)}`);
  const rows = await q<EventRow>(
    sql,
    `SELECT id, at, type, actor, run_id, task_id, attempt_id, data FROM events WHERE ${where.join(" AND ")} ORDER BY id LIMIT ${p.add(options.limit)}`,
    p.values,
  );
  return rows.map(toEvent);
}
