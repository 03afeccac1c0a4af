/**
 * Task output (a shell command's stdout and stderr) as it happens. Lines from
 * an attempt that no longer holds the lease are dropped: the fence applies to
 * output too, so a stale drone cannot interleave its output with the new one's.
 */
import type { LogEntry, LogRecord } from "../types.ts";
import type { TxContext } from "./context.ts";
import { sql } from "./statements.ts";

interface LogRow {
  id: number;
  task_id: number;
  attempt_id: number;
  at: number;
  stream: LogRecord["stream"];
  text: string;
}

/** Returns how many entries were kept (0 when the attempt lost its lease). */
export function appendLogsTx(ctx: TxContext, taskId: number, attemptId: number, entries: readonly LogEntry[]): number {
  const current = sql<{ one: number }, [number, number]>(ctx.db, "SELECT 1 AS one FROM tasks WHERE id = ? AND attempt_id = ? AND state = 'running'").get(taskId, attemptId);
  if (!current) return 0;
  const insert = sql(ctx.db, "INSERT INTO task_logs (task_id, attempt_id, at, stream, text) VALUES (?, ?, ?, ?, ?)");
  for (const entry of entries) insert.run(taskId, attemptId, entry.at ?? ctx.now, entry.stream, entry.text);
  return entries.length;
}

export function selectLogs(ctx: TxContext, taskId: number, afterId: number, limit: number): LogRecord[] {
  return sql<LogRow, [number, number, number]>(ctx.db, "SELECT * FROM task_logs WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?")
    .all(taskId, afterId, limit)
    .map((row) => ({ id: row.id, taskId: row.task_id, attemptId: row.attempt_id, at: row.at, stream: row.stream, text: row.text }));
}
