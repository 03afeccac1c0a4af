/**
 * Task output (a shell command's stdout and stderr) as it happens. Lines from
 * an attempt that no longer holds the lease are dropped: the fence applies to
 * output too, so a stale drone cannot interleave its output with the new one's.
 * Appends of many tasks share one statement (the fence and the insert).
 */
import type { SQL } from "bun";
import type { LogEntry, LogRecord } from "../types.ts";
import type { TxContext } from "./context.ts";
import { toLog, type LogRow } from "./rows.ts";
import { intArray, textArray } from "./arrays.ts";
import { batchTasks, num, pgText, q } from "./sqlText.ts";

export interface LogRequest {
  taskId: number;
  attemptId: number;
  entries: readonly LogEntry[];
}

/** Appends each request's entries if its attempt holds the lease; returns how many were kept per request (0: lease lost). */
export async function appendLogs(ctx: TxContext, requests: readonly LogRequest[]): Promise<number[]> {
  const task: number[] = [];
  const attempt: number[] = [];
  const at: number[] = [];
  const stream: string[] = [];
  const text: string[] = [];
  for (const request of requests) {
    for (const entry of request.entries) {
      task.push(request.taskId);
      attempt.push(request.attemptId);
      at.push(entry.at ?? ctx.now);
      stream.push(entry.stream);
      text.push(pgText(entry.text));
    }
  }
  const kept = await q<{ task_id: string; n: string }>(
    ctx.sql,
    `WITH l AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) WITH ORDINALITY AS l(task_id, attempt_id, at, stream, text, n)),
     held AS (
       SELECT t.id, t.attempt_id FROM tasks t WHERE ${batchTasks("t", "$6")} AND (t.id, t.attempt_id) IN (SELECT task_id, attempt_id FROM l)
       ORDER BY t.id FOR SHARE OF t
     ),
     written AS (
       INSERT INTO task_logs (task_id, attempt_id, at, stream, text)
       SELECT l.task_id, l.attempt_id, l.at, l.stream, l.text FROM l JOIN held h ON h.id = l.task_id AND h.attempt_id = l.attempt_id ORDER BY l.n
       RETURNING task_id
     )
     SELECT task_id, count(*) AS n FROM written GROUP BY task_id`,
    // $6: each task once (a task that wrote many lines is one row to look up, not one per line).
    [intArray(task), intArray(attempt), intArray(at), textArray(stream), textArray(text), intArray(requests.map((r) => r.taskId))],
  );
  const byTask = new Map(kept.map((row) => [num(row.task_id), num(row.n)]));
  return requests.map((request) => (request.entries.length === 0 ? 0 : byTask.get(request.taskId) ?? 0));
}

export async function selectLogs(sql: SQL, taskId: number, afterId: number, limit: number): Promise<LogRecord[]> {
  return (await q<LogRow>(sql, "SELECT id, task_id, attempt_id, at, stream, text FROM task_logs WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3", [taskId, afterId, limit])).map(toLog);
}
