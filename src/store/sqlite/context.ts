/** What every SQL function of the SQLite store receives: the connection, "now", and who acts. */
import type { Database } from "bun:sqlite";
import type { EventWrite } from "../../core/events.ts";
import { UNFINISHED_RUN_STATES, type RunState } from "../../core/states.ts";
import { toJson } from "./rows.ts";
import { inList, sql } from "./statements.ts";

export interface TxContext {
  db: Database;
  now: number;
  /**
   * Run counters changed by the writes of a batch, written once per run
   * (applyRunDeltas). Absent outside the group writer: closeTasks then
   * writes at once.
   */
  deltas?: Map<string, RunDelta>;
}

/** Tasks of one run that closed in a batch, and who wants the run's state afterwards. */
export interface RunDelta {
  closed: number;
  failed: number;
  actor: string;
  listeners: ((state: RunState) => void)[];
}

export function appendEvent(ctx: TxContext, event: EventWrite): void {
  sql(ctx.db, "INSERT INTO events (at, type, actor, run_id, task_id, attempt_id, data) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
    ctx.now, event.type, event.actor, event.runId ?? null, event.taskId ?? null, event.attemptId ?? null, toJson(event.data));
}

const UNFINISHED = inList(UNFINISHED_RUN_STATES);

/**
 * Counts `closed` tasks of a run as terminal (`failed` of them unsuccessful);
 * `onState` learns the run's state once the count is written. In a batch the
 * counts are added up and written by applyRunDeltas; otherwise at once.
 */
export function closeTasks(ctx: TxContext, runId: string, closed: number, failed: number, actor: string, onState?: (state: RunState) => void): void {
  const listeners = onState ? [onState] : [];
  if (!ctx.deltas) return writeRunCounts(ctx, runId, { closed, failed, actor, listeners });
  const delta = ctx.deltas.get(runId);
  if (!delta) ctx.deltas.set(runId, { closed, failed, actor, listeners });
  else {
    delta.closed += closed;
    delta.failed += failed;
    delta.listeners.push(...listeners);
  }
}

/** Writes the batch's pending run counters (one UPDATE per run) and clears them. */
export function applyRunDeltas(ctx: TxContext): void {
  if (!ctx.deltas || ctx.deltas.size === 0) return;
  const deltas = [...ctx.deltas];
  ctx.deltas.clear();
  for (const [runId, delta] of deltas) writeRunCounts(ctx, runId, delta);
}

/** When the last open task closes, the run ends: succeeded if none failed, and its event is appended. */
function writeRunCounts(ctx: TxContext, runId: string, delta: RunDelta): void {
  const { closed, failed, actor } = delta;
  // In an UPDATE every SET expression reads the row's old values.
  const row = sql<{ state: RunState; tasks_open: number; tasks_failed: number }, [number, number, number, string]>(
    ctx.db,
    `UPDATE runs SET
         tasks_open = tasks_open - ?1,
         tasks_failed = tasks_failed + ?2,
         state = CASE WHEN state IN (${UNFINISHED}) AND tasks_open - ?1 <= 0
                      THEN (CASE WHEN tasks_failed + ?2 > 0 THEN 'failed' ELSE 'succeeded' END)
                      ELSE state END,
         finished_at = CASE WHEN state IN (${UNFINISHED}) AND tasks_open - ?1 <= 0 THEN ?3 ELSE finished_at END,
         updated_at = ?3
       WHERE id = ?4
       RETURNING state, tasks_open, tasks_failed`,
  ).get(closed, failed, ctx.now, runId);
  if (!row) throw new Error(`run ${runId} vanished while closing its tasks`);
  if (closed > 0 && row.tasks_open === 0 && (row.state === "succeeded" || row.state === "failed")) {
    appendEvent(ctx, { type: row.state === "succeeded" ? "run.succeeded" : "run.failed", actor, runId, data: { failedTasks: row.tasks_failed } });
  }
  for (const listener of delta.listeners) listener(row.state);
}
