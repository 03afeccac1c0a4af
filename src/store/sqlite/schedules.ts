/**
 * Schedules and their fires. A fire is keyed by (schedule, slot) under a
 * primary key, so any number of schedulers on one database fire each slot
 * exactly once: the first INSERT wins, the others change nothing. Creating
 * the run, applying the overlap policy and moving `last_slot` happen in the
 * same transaction as that INSERT.
 */
import { ConflictError, InvalidTransitionError, NotFoundError } from "../../core/errors.ts";
import { newId } from "../../core/ids.ts";
import { SCHEDULE_EVENT_TYPES } from "../../core/events.ts";
import type { FireRequest, FireResult, ScheduleEvent, ScheduleEventType, ScheduleInput, ScheduleRecord } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { toEvent, toJson, type EventRow } from "./rows.ts";
import { contentHash, scheduleApproved, unapprovedReason } from "../scheduleApproval.ts";
import { cancelRunTx, insertPlanningRun } from "./runs.ts";
import { UNFINISHED_RUN_STATES } from "../../core/states.ts";
import { inList, sql } from "./statements.ts";

interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  target_kind: ScheduleRecord["targetKind"];
  target: string;
  cwd: string | null;
  overlap: ScheduleRecord["overlap"];
  catch_up: ScheduleRecord["catchUp"];
  enabled: number;
  last_slot: number | null;
  created_at: number;
  updated_at: number;
  approval_hash: string | null;
  approved_hash: string | null;
}

function toSchedule(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id, name: row.name, cron: row.cron, timezone: row.timezone, targetKind: row.target_kind, target: row.target, cwd: row.cwd,
    overlap: row.overlap, catchUp: row.catch_up, enabled: row.enabled === 1, lastSlot: row.last_slot, createdAt: row.created_at, updatedAt: row.updated_at,
    approvalHash: row.approval_hash, approvedHash: row.approved_hash,
  };
}

export function selectSchedule(ctx: TxContext, name: string): ScheduleRecord {
  const row = sql<ScheduleRow, [string, string]>(ctx.db, "SELECT * FROM schedules WHERE name = ? OR id = ?").get(name, name);
  if (!row) throw new NotFoundError("schedule", name, "list schedules with `farcaster schedule list`");
  return toSchedule(row);
}

function unapprovedWhy(ctx: TxContext, schedule: ScheduleRecord): string {
  const gate = sql<{ id: string }, [string]>(ctx.db, "SELECT id FROM gates WHERE schedule_id = ? AND state = 'pending' ORDER BY created_at DESC LIMIT 1").get(schedule.id);
  return unapprovedReason(schedule, gate?.id ?? null);
}

export function selectSchedules(ctx: TxContext, enabledOnly: boolean): ScheduleRecord[] {
  return sql<ScheduleRow, []>(ctx.db, `SELECT * FROM schedules ${enabledOnly ? "WHERE enabled = 1" : ""} ORDER BY name`).all().map(toSchedule);
}

/**
 * A schedule's events without a scan of the log: all but `schedule.fired`
 * carry no run, so they sit in the run_id IS NULL part of events_by_run
 * (schedule events, schedule gates, signals: a small part); each fired one is
 * found through its fire's run. An earlier schedule of the same name ends
 * where this one's `schedule.created` begins.
 */
export function selectScheduleEvents(ctx: TxContext, name: string, options: { limit: number; types?: readonly ScheduleEventType[] }): ScheduleEvent[] {
  const schedule = selectSchedule(ctx, name);
  const types = options.types ?? SCHEDULE_EVENT_TYPES;
  const rows = sql<EventRow, (string | number)[]>(
    ctx.db,
    `SELECT * FROM (
       SELECT e.* FROM events e
       WHERE e.run_id IS NULL AND e.type LIKE 'schedule.%' AND json_extract(e.data, '$.schedule') = ?1
         AND e.id >= (SELECT coalesce(max(id), 0) FROM events
                      WHERE run_id IS NULL AND type = 'schedule.created' AND json_extract(data, '$.schedule') = ?1)
       UNION ALL
       SELECT e.* FROM schedule_fires f JOIN events e ON e.run_id = f.run_id AND e.type = 'schedule.fired'
       WHERE f.schedule_id = ?2 AND f.run_id IS NOT NULL
     ) WHERE type IN (${types.map(() => "?").join(", ")})
     ORDER BY id DESC LIMIT ?`,
  ).all(schedule.name, schedule.id, ...types, options.limit);
  return rows.reverse().map((row) => toEvent(row) as ScheduleEvent);
}

export function insertSchedule(ctx: TxContext, input: ScheduleInput, actor: string): ScheduleRecord {
  if (sql(ctx.db, "SELECT 1 FROM schedules WHERE name = ?").get(input.name)) {
    throw new ConflictError(`a schedule named "${input.name}" already exists; remove it first (farcaster schedule rm ${input.name}) or pick another name`);
  }
  const id = newId("s", ctx.now);
  const approvalHash = input.approval ? contentHash(input.target) : null;
  sql(
    ctx.db,
    `INSERT INTO schedules (id, name, cron, timezone, target_kind, target, cwd, overlap, catch_up, enabled, last_slot, created_at, updated_at, approval_hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
  ).run(id, input.name, input.cron, input.timezone, input.targetKind, input.target, input.cwd ?? null, input.overlap, input.catchUp, input.approval ? 0 : 1,
      ctx.now, ctx.now, approvalHash);
  appendEvent(ctx, { type: "schedule.created", actor, data: { schedule: input.name, cron: input.cron, timezone: input.timezone } });
  if (input.approval) {
    // Held paused at a gate: approving it enables the schedule for exactly this plan (see decideGateTx).
    const gateId = newId("g", ctx.now);
    sql(
      ctx.db,
      `INSERT INTO gates (id, run_id, task_id, schedule_id, question, evidence, subject_hash, asked_by, state, on_timeout, created_at)
       VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, 'pending', 'fail', ?)`,
    ).run(gateId, id, input.approval.question, toJson(input.approval.evidence), approvalHash, actor, ctx.now);
    appendEvent(ctx, { type: "gate.opened", actor, data: { gate: gateId, question: input.approval.question } });
  }
  return selectSchedule(ctx, id);
}

export function setEnabledTx(ctx: TxContext, name: string, enabled: boolean, actor: string): ScheduleRecord {
  const schedule = selectSchedule(ctx, name);
  if (enabled && !scheduleApproved(schedule)) throw new InvalidTransitionError("schedule", schedule.name, "paused", "enabled", unapprovedWhy(ctx, schedule));
  // Resuming starts afresh from now: slots that passed while paused are not "missed".
  sql(ctx.db, `UPDATE schedules SET enabled = ?, last_slot = CASE WHEN ? THEN ? ELSE last_slot END, updated_at = ? WHERE id = ?`)
    .run(enabled ? 1 : 0, enabled && !schedule.enabled ? 1 : 0, ctx.now, ctx.now, schedule.id);
  appendEvent(ctx, { type: enabled ? "schedule.resumed" : "schedule.paused", actor, data: { schedule: schedule.name } });
  return selectSchedule(ctx, schedule.id);
}

export function deleteScheduleTx(ctx: TxContext, name: string, actor: string): void {
  const schedule = selectSchedule(ctx, name);
  sql(ctx.db, "DELETE FROM schedule_fires WHERE schedule_id = ?").run(schedule.id);
  sql(ctx.db, "DELETE FROM gates WHERE schedule_id = ?").run(schedule.id); // its approval, if any (the events stay)
  sql(ctx.db, "DELETE FROM schedules WHERE id = ?").run(schedule.id);
  appendEvent(ctx, { type: "schedule.removed", actor, data: { schedule: schedule.name } });
}

/** Slots that came due but will not fire (catch-up policy): recorded once, by whichever scheduler gets there first. */
export function recordMissedTx(ctx: TxContext, scheduleId: string, throughSlot: number, missed: number, policy: string, actor: string): boolean {
  const moved = sql(ctx.db, "UPDATE schedules SET last_slot = ?, updated_at = ? WHERE id = ? AND (last_slot IS NULL OR last_slot < ?)")
    .run(throughSlot, ctx.now, scheduleId, throughSlot).changes;
  if (moved > 0 && missed > 0) {
    const schedule = selectSchedule(ctx, scheduleId);
    appendEvent(ctx, { type: "schedule.missed", actor, data: { schedule: schedule.name, missed, through: throughSlot, policy } });
  }
  return moved > 0;
}

/**
 * A manual fire's slot: its time, or the first one after it that no fire of
 * the schedule holds. Two manual fires in one millisecond are two fires (a
 * slot is the key that makes a scheduled fire happen once, not a limit on
 * how often a person may run a schedule).
 */
function firstFreeSlot(ctx: TxContext, scheduleId: string, at: number): number {
  const taken = sql<{ last: number | null }, [string, number]>(ctx.db, "SELECT max(slot) AS last FROM schedule_fires WHERE schedule_id = ? AND slot >= ?").get(scheduleId, at)!.last;
  return taken === null ? at : taken + 1;
}

export function fireTx(ctx: TxContext, request: FireRequest): FireResult {
  // Read again inside the transaction: a schedule paused (or removed: NotFoundError)
  // after the scheduler read it must not fire.
  const schedule = selectSchedule(ctx, request.scheduleId);
  if (!schedule.enabled && !request.manual) return { outcome: "paused" };
  if (!scheduleApproved(schedule)) throw new InvalidTransitionError("schedule", schedule.name, "ready", "fired", unapprovedWhy(ctx, schedule));
  const slot = request.manual ? firstFreeSlot(ctx, schedule.id, request.slot) : request.slot;
  const inserted = sql(ctx.db, "INSERT INTO schedule_fires (schedule_id, slot, outcome, at) VALUES (?, ?, 'fired', ?) ON CONFLICT DO NOTHING")
    .run(schedule.id, slot, ctx.now).changes;
  if (inserted === 0) return { outcome: "duplicate" };
  sql(ctx.db, "UPDATE schedules SET last_slot = max(coalesce(last_slot, 0), ?), updated_at = ? WHERE id = ?").run(slot, ctx.now, schedule.id);
  const base = { schedule: schedule.name, slot };
  if (request.error) {
    sql(ctx.db, "UPDATE schedule_fires SET outcome = 'failed', detail = ? WHERE schedule_id = ? AND slot = ?").run(request.error, schedule.id, slot);
    appendEvent(ctx, { type: "schedule.failed", actor: request.actor, data: { ...base, error: request.error } });
    return { outcome: "failed", detail: request.error };
  }
  const unfinished = sql<{ id: string }, [string]>(
    ctx.db,
    `SELECT r.id FROM schedule_fires f JOIN runs r ON r.id = f.run_id
     WHERE f.schedule_id = ? AND r.state IN (${inList(UNFINISHED_RUN_STATES)})`,
  ).all(schedule.id).map((row) => row.id);
  if (unfinished.length > 0 && schedule.overlap === "skip") {
    const detail = `the previous run ${unfinished.join(", ")} is unfinished (overlap: skip)`;
    sql(ctx.db, "UPDATE schedule_fires SET outcome = 'skipped', detail = ? WHERE schedule_id = ? AND slot = ?").run(detail, schedule.id, slot);
    appendEvent(ctx, { type: "schedule.skipped", actor: request.actor, data: { ...base, running: unfinished } });
    return { outcome: "skipped", detail };
  }
  if (schedule.overlap === "cancel-previous") {
    for (const runId of unfinished) cancelRunTx(ctx, runId, request.actor, `schedule ${schedule.name} fired again (overlap: cancel-previous)`);
  }
  const { run } = insertPlanningRun(ctx, request.goal, request.planningInput, {
    source: `schedule:${schedule.name}`,
    cwd: schedule.cwd ?? undefined,
    idempotencyKey: `schedule:${schedule.id}:${slot}`,
    actor: request.actor,
  });
  sql(ctx.db, "UPDATE schedule_fires SET run_id = ? WHERE schedule_id = ? AND slot = ?").run(run.id, schedule.id, slot);
  appendEvent(ctx, { type: "schedule.fired", actor: request.actor, runId: run.id, data: { ...base, cancelled: schedule.overlap === "cancel-previous" ? unfinished : [] } });
  return { outcome: "fired", runId: run.id };
}
