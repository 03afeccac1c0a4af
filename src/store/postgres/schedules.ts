/**
 * Schedules and their fires. A fire is keyed by (schedule, slot) under a
 * primary key, so any number of schedulers, on any number of machines, fire
 * each slot exactly once: the first INSERT wins, a concurrent one waits for
 * it to commit and changes nothing. Creating the run, applying the overlap
 * policy and moving `last_slot` happen in the same transaction as that INSERT.
 */
import type { SQL } from "bun";
import { ConflictError, InvalidTransitionError, NotFoundError } from "../../core/errors.ts";
import { newId } from "../../core/ids.ts";
import { UNFINISHED_RUN_STATES } from "../../core/states.ts";
import { SCHEDULE_EVENT_TYPES } from "../../core/events.ts";
import type { FireRequest, FireResult, ScheduleEvent, ScheduleEventType, ScheduleInput, ScheduleRecord } from "../types.ts";
import { toEvent, type EventRow } from "./rows.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { cancelRunTx, insertPlanningRun } from "./runs.ts";
import { contentHash, scheduleApproved, unapprovedReason } from "../scheduleApproval.ts";
import { inList, jsonb, num, q, toJson } from "./sqlText.ts";

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
  enabled: boolean;
  last_slot: string | null;
  created_at: string;
  updated_at: string;
  approval_hash: string | null;
  approved_hash: string | null;
}

const SCHEDULE_SELECT = "SELECT id, name, cron, timezone, target_kind, target, cwd, overlap, catch_up, enabled, last_slot, created_at, updated_at, approval_hash, approved_hash FROM schedules";

function toSchedule(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id, name: row.name, cron: row.cron, timezone: row.timezone, targetKind: row.target_kind, target: row.target, cwd: row.cwd,
    overlap: row.overlap, catchUp: row.catch_up, enabled: row.enabled, lastSlot: num(row.last_slot), createdAt: num(row.created_at), updatedAt: num(row.updated_at),
    approvalHash: row.approval_hash, approvedHash: row.approved_hash,
  };
}

export async function selectSchedule(sql: SQL, name: string, lock = false): Promise<ScheduleRecord> {
  const [row] = await q<ScheduleRow>(sql, `${SCHEDULE_SELECT} WHERE name = $1 OR id = $1${lock ? " FOR UPDATE" : ""}`, [name]);
  if (!row) throw new NotFoundError("schedule", name, "list schedules with `farcaster schedule list`");
  return toSchedule(row);
}

async function unapprovedWhy(ctx: TxContext, schedule: ScheduleRecord): Promise<string> {
  const [gate] = await q<{ id: string }>(ctx.sql, "SELECT id FROM gates WHERE schedule_id = $1 AND state = 'pending' ORDER BY created_at DESC LIMIT 1", [schedule.id]);
  return unapprovedReason(schedule, gate?.id ?? null);
}

export async function selectSchedules(sql: SQL, enabledOnly: boolean): Promise<ScheduleRecord[]> {
  return (await q<ScheduleRow>(sql, `${SCHEDULE_SELECT} ${enabledOnly ? "WHERE enabled" : ""} ORDER BY name`)).map(toSchedule);
}

/**
 * A schedule's events without a scan of the log: all but `schedule.fired`
 * carry no run, so they sit in the run_id IS NULL part of events_by_run
 * (schedule events, schedule gates, signals: a small part); each fired one is
 * found through its fire's run. An earlier schedule of the same name ends
 * where this one's `schedule.created` begins.
 */
export async function selectScheduleEvents(sql: SQL, name: string, options: { limit: number; types?: readonly ScheduleEventType[] }): Promise<ScheduleEvent[]> {
  const schedule = await selectSchedule(sql, name);
  const rows = await q<EventRow>(
    sql,
    `SELECT * FROM (
       SELECT e.id, e.at, e.type, e.actor, e.run_id, e.task_id, e.attempt_id, e.data FROM events e
       WHERE e.run_id IS NULL AND e.type LIKE 'schedule.%' AND ${jsonb("e.data")} ->> 'schedule' = $1
         AND e.id >= (SELECT coalesce(max(id), 0) FROM events
                      WHERE run_id IS NULL AND type = 'schedule.created' AND ${jsonb("data")} ->> 'schedule' = $1)
       UNION ALL
       SELECT e.id, e.at, e.type, e.actor, e.run_id, e.task_id, e.attempt_id, e.data FROM schedule_fires f
       JOIN events e ON e.run_id = f.run_id AND e.type = 'schedule.fired'
       WHERE f.schedule_id = $2 AND f.run_id IS NOT NULL
     ) s WHERE type = ANY($3::text[])
     ORDER BY id DESC LIMIT $4`,
    [schedule.name, schedule.id, [...(options.types ?? SCHEDULE_EVENT_TYPES)], options.limit],
  );
  return rows.reverse().map((row) => toEvent(row) as ScheduleEvent);
}

export async function insertSchedule(ctx: TxContext, input: ScheduleInput, actor: string): Promise<ScheduleRecord> {
  const id = newId("s", ctx.now);
  const approvalHash = input.approval ? contentHash(input.target) : null;
  const inserted = await q(
    ctx.sql,
    `INSERT INTO schedules (id, name, cron, timezone, target_kind, target, cwd, overlap, catch_up, enabled, last_slot, created_at, updated_at, approval_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $11, $12) ON CONFLICT (name) DO NOTHING RETURNING id`,
    [id, input.name, input.cron, input.timezone, input.targetKind, input.target, input.cwd ?? null, input.overlap, input.catchUp, !input.approval, ctx.now, approvalHash],
  );
  if (inserted.length === 0) {
    throw new ConflictError(`a schedule named "${input.name}" already exists; remove it first (farcaster schedule rm ${input.name}) or pick another name`);
  }
  appendEvent(ctx, { type: "schedule.created", actor, data: { schedule: input.name, cron: input.cron, timezone: input.timezone } });
  if (input.approval) {
    // Held paused at a gate: approving it enables the schedule for exactly this plan (see decideGateTx).
    const gateId = newId("g", ctx.now);
    await q(
      ctx.sql,
      `INSERT INTO gates (id, run_id, task_id, schedule_id, question, evidence, subject_hash, asked_by, state, on_timeout, created_at)
       VALUES ($1, NULL, NULL, $2, $3, $4, $5, $6, 'pending', 'fail', $7)`,
      [gateId, id, input.approval.question, toJson(input.approval.evidence), approvalHash, actor, ctx.now],
    );
    appendEvent(ctx, { type: "gate.opened", actor, data: { gate: gateId, question: input.approval.question } });
  }
  return selectSchedule(ctx.sql, id);
}

export async function setEnabledTx(ctx: TxContext, name: string, enabled: boolean, actor: string): Promise<ScheduleRecord> {
  const schedule = await selectSchedule(ctx.sql, name, true);
  if (enabled && !scheduleApproved(schedule)) throw new InvalidTransitionError("schedule", schedule.name, "paused", "enabled", await unapprovedWhy(ctx, schedule));
  // Resuming starts afresh from now: slots that passed while paused are not "missed".
  await q(ctx.sql, "UPDATE schedules SET enabled = $1, last_slot = CASE WHEN $2 THEN $3 ELSE last_slot END, updated_at = $3 WHERE id = $4", [
    enabled, enabled && !schedule.enabled, ctx.now, schedule.id,
  ]);
  appendEvent(ctx, { type: enabled ? "schedule.resumed" : "schedule.paused", actor, data: { schedule: schedule.name } });
  return selectSchedule(ctx.sql, schedule.id);
}

export async function deleteScheduleTx(ctx: TxContext, name: string, actor: string): Promise<void> {
  const schedule = await selectSchedule(ctx.sql, name, true);
  await q(ctx.sql, "DELETE FROM schedule_fires WHERE schedule_id = $1", [schedule.id]);
  await q(ctx.sql, "DELETE FROM gates WHERE schedule_id = $1", [schedule.id]); // its approval, if any (the events stay)
  await q(ctx.sql, "DELETE FROM schedules WHERE id = $1", [schedule.id]);
  appendEvent(ctx, { type: "schedule.removed", actor, data: { schedule: schedule.name } });
}

/** Slots that came due but will not fire (catch-up policy): recorded once, by whichever scheduler gets there first. */
export async function recordMissedTx(ctx: TxContext, scheduleId: string, throughSlot: number, missed: number, policy: string, actor: string): Promise<boolean> {
  const moved = await q<{ name: string }>(
    ctx.sql,
    "UPDATE schedules SET last_slot = $1, updated_at = $2 WHERE id = $3 AND (last_slot IS NULL OR last_slot < $1) RETURNING name",
    [throughSlot, ctx.now, scheduleId],
  );
  if (moved.length > 0 && missed > 0) {
    appendEvent(ctx, { type: "schedule.missed", actor, data: { schedule: moved[0]!.name, missed, through: throughSlot, policy } });
  }
  return moved.length > 0;
}

/** Manual fires that collide with concurrent ones try the next free slot this many times. */
const MANUAL_SLOT_TRIES = 5;

/**
 * Records the fire; returns its slot, or null when a fire of that slot is
 * recorded already (a scheduled fire: another scheduler got there first). A
 * manual fire takes its time, or the first slot after it that no fire of the
 * schedule holds: two manual fires in one millisecond are two fires. Under
 * concurrency two may pick the same slot; the one that waited on the other's
 * row tries again (each statement sees what committed before it).
 */
async function insertFire(ctx: TxContext, scheduleId: string, request: FireRequest): Promise<number | null> {
  const slot = request.manual
    ? "GREATEST($2::bigint, (SELECT max(slot) + 1 FROM schedule_fires WHERE schedule_id = $1 AND slot >= $2))"
    : "$2::bigint";
  for (let tries = 0; ; tries++) {
    const [row] = await q<{ slot: string }>(
      ctx.sql,
      `INSERT INTO schedule_fires (schedule_id, slot, outcome, at) SELECT $1, ${slot}, 'fired', $3 ON CONFLICT DO NOTHING RETURNING slot`,
      [scheduleId, request.slot, ctx.now],
    );
    if (row) return num(row.slot);
    if (!request.manual || tries + 1 >= MANUAL_SLOT_TRIES) return null;
  }
}

export async function fireTx(ctx: TxContext, request: FireRequest): Promise<FireResult> {
  // Read again inside the transaction: a schedule paused (or removed: NotFoundError)
  // after the scheduler read it must not fire.
  const schedule = await selectSchedule(ctx.sql, request.scheduleId);
  if (!schedule.enabled && !request.manual) return { outcome: "paused" };
  if (!scheduleApproved(schedule)) throw new InvalidTransitionError("schedule", schedule.name, "ready", "fired", await unapprovedWhy(ctx, schedule));
  const slot = await insertFire(ctx, schedule.id, request);
  if (slot === null) return { outcome: "duplicate" };
  await q(ctx.sql, "UPDATE schedules SET last_slot = GREATEST(coalesce(last_slot, 0), $1), updated_at = $2 WHERE id = $3", [slot, ctx.now, schedule.id]);
  const base = { schedule: schedule.name, slot };
  if (request.error) {
    await q(ctx.sql, "UPDATE schedule_fires SET outcome = 'failed', detail = $1 WHERE schedule_id = $2 AND slot = $3", [request.error, schedule.id, slot]);
    appendEvent(ctx, { type: "schedule.failed", actor: request.actor, data: { ...base, error: request.error } });
    return { outcome: "failed", detail: request.error };
  }
  const unfinished = (
    await q<{ id: string }>(
      ctx.sql,
      `SELECT r.id FROM schedule_fires f JOIN runs r ON r.id = f.run_id
       WHERE f.schedule_id = $1 AND r.state IN (${inList(UNFINISHED_RUN_STATES)}) ORDER BY r.created_at, r.id`,
      [schedule.id],
    )
  ).map((row) => row.id);
  if (unfinished.length > 0 && schedule.overlap === "skip") {
    const detail = `the previous run ${unfinished.join(", ")} is unfinished (overlap: skip)`;
    await q(ctx.sql, "UPDATE schedule_fires SET outcome = 'skipped', detail = $1 WHERE schedule_id = $2 AND slot = $3", [detail, schedule.id, slot]);
    appendEvent(ctx, { type: "schedule.skipped", actor: request.actor, data: { ...base, running: unfinished } });
    return { outcome: "skipped", detail };
  }
  if (schedule.overlap === "cancel-previous") {
    for (const runId of unfinished) await cancelRunTx(ctx, runId, request.actor, `schedule ${schedule.name} fired again (overlap: cancel-previous)`);
  }
  const { run } = await insertPlanningRun(ctx, request.goal, request.planningInput, {
    source: `schedule:${schedule.name}`,
    cwd: schedule.cwd ?? undefined,
    idempotencyKey: `schedule:${schedule.id}:${slot}`,
    actor: request.actor,
  });
  await q(ctx.sql, "UPDATE schedule_fires SET run_id = $1 WHERE schedule_id = $2 AND slot = $3", [run.id, schedule.id, slot]);
  appendEvent(ctx, { type: "schedule.fired", actor: request.actor, runId: run.id, data: { ...base, cancelled: schedule.overlap === "cancel-previous" ? unfinished : [] } });
  return { outcome: "fired", runId: run.id };
}
