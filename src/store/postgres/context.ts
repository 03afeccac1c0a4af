/**
 * What every state change of the PostgreSQL store receives: the transaction
 * (or savepoint) to run its statements on, "now", and what the batch will
 * write when it ends.
 *
 * Three things are collected rather than written at once, and written by
 * the group writer just before COMMIT (writer.ts):
 * - events: appended in one statement, under the lock that makes event ids
 *   visible in order (events.ts);
 * - run counters (tasks open, failed): added up per run and written once per
 *   run, so a batch of completions of one run updates its row once;
 * - `ready`: tasks became ready (enqueued, unblocked, woken, decided), so the
 *   batch sends one NOTIFY for idle drones elsewhere.
 */
import type { SQL } from "bun";
import type { EventWrite } from "../../core/events.ts";
import { UNFINISHED_RUN_STATES, type RunState } from "../../core/states.ts";
import { inList, q, toJson } from "./sqlText.ts";

export interface PendingEvent {
  at: number;
  type: string;
  actor: string;
  runId: string | null;
  taskId: number | null;
  attemptId: number | null;
  data: string | null;
}

/** Tasks of one run that closed in a batch, and who wants the run's state afterwards. */
export interface RunDelta {
  closed: number;
  failed: number;
  actor: string;
  listeners: ((state: RunState) => void)[];
}

export interface TxContext {
  sql: SQL;
  now: number;
  events: PendingEvent[];
  deltas: Map<string, RunDelta>;
  /** Set when tasks became ready: the batch notifies idle drones. */
  ready: boolean;
  /**
   * The batch is applied again because its COMMIT was lost with the
   * connection: a fenced write that finds its own effect already there
   * (the attempt succeeded, the step is recorded) succeeds instead of
   * reporting a lost lease.
   */
  replay: boolean;
}

export function newContext(sql: SQL, now: number, replay = false): TxContext {
  return { sql, now, events: [], deltas: new Map(), ready: false, replay };
}

/** A context for one write inside its savepoint: its events and counters join the batch only if it succeeds. */
export function childContext(parent: TxContext, sql: SQL): TxContext {
  return { sql, now: parent.now, events: [], deltas: new Map(), ready: false, replay: parent.replay };
}

export function mergeInto(parent: TxContext, child: TxContext): void {
  parent.events.push(...child.events);
  parent.ready ||= child.ready;
  for (const [runId, delta] of child.deltas) addDelta(parent.deltas, runId, delta);
}

function addDelta(into: Map<string, RunDelta>, runId: string, delta: RunDelta): void {
  const existing = into.get(runId);
  if (!existing) into.set(runId, { ...delta, listeners: [...delta.listeners] });
  else {
    existing.closed += delta.closed;
    existing.failed += delta.failed;
    existing.listeners.push(...delta.listeners);
  }
}

export function appendEvent(ctx: TxContext, event: EventWrite): void {
  ctx.events.push({
    at: ctx.now,
    type: event.type,
    actor: event.actor,
    runId: event.runId ?? null,
    taskId: event.taskId ?? null,
    attemptId: event.attemptId ?? null,
    data: toJson(event.data ?? null),
  });
}

/** Counts `closed` tasks of a run as terminal (`failed` of them unsuccessful); `onState` learns the run's state once written. */
export function closeTasks(ctx: TxContext, runId: string, closed: number, failed: number, actor: string, onState?: (state: RunState) => void): void {
  addDelta(ctx.deltas, runId, { closed, failed, actor, listeners: onState ? [onState] : [] });
}

const UNFINISHED = inList(UNFINISHED_RUN_STATES);

/**
 * Writes the pending run counters, one row per run in one statement, and
 * clears them. Runs are locked in id order first: two batches closing tasks
 * of the same runs take their row locks in the same order and never deadlock.
 * When the last open task closes, the run ends (succeeded if none failed) and
 * its event is appended.
 */
export async function applyRunDeltas(ctx: TxContext): Promise<void> {
  if (ctx.deltas.size === 0) return;
  const deltas = [...ctx.deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  ctx.deltas.clear();
  const rows = await q<{ id: string; state: RunState; tasks_open: number; tasks_failed: number }>(
    ctx.sql,
    `WITH d AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) AS d(id, closed, failed)),
          locked AS (SELECT r.id FROM runs r JOIN d ON d.id = r.id ORDER BY r.id FOR NO KEY UPDATE OF r)
     UPDATE runs r SET
         tasks_open = r.tasks_open - d.closed,
         tasks_failed = r.tasks_failed + d.failed,
         state = CASE WHEN r.state IN (${UNFINISHED}) AND r.tasks_open - d.closed <= 0
                      THEN (CASE WHEN r.tasks_failed + d.failed > 0 THEN 'failed' ELSE 'succeeded' END)
                      ELSE r.state END,
         finished_at = CASE WHEN r.state IN (${UNFINISHED}) AND r.tasks_open - d.closed <= 0 THEN $4 ELSE r.finished_at END,
         updated_at = $4
       FROM d, locked WHERE r.id = d.id AND locked.id = r.id
       RETURNING r.id, r.state, r.tasks_open, r.tasks_failed`,
    [deltas.map(([id]) => id), deltas.map(([, d]) => d.closed), deltas.map(([, d]) => d.failed), ctx.now],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const [runId, delta] of deltas) {
    const row = byId.get(runId);
    if (!row) throw new Error(`run ${runId} vanished while closing its tasks`);
    if (delta.closed > 0 && row.tasks_open === 0 && (row.state === "succeeded" || row.state === "failed")) {
      appendEvent(ctx, { type: row.state === "succeeded" ? "run.succeeded" : "run.failed", actor: delta.actor, runId, data: { failedTasks: row.tasks_failed } });
    }
    for (const listener of delta.listeners) listener(row.state);
  }
}
