/**
 * Human gates: opened by a task as it suspends, decided by a person (CLI,
 * HTTP, dashboard: all through decideGateTx), swept for timeouts by the
 * upkeep. A gate never approves itself: a timeout fails the task or escalates.
 * A decision and a sweep lock the gate row, so one of them wins whole.
 */
import type { SQL } from "bun";
import { GateNotPendingError, InputError, NotFoundError } from "../../core/errors.ts";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import type { GateDecision, GateRecord, GateRequest } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { failForGood, type FencedTask } from "./outcomes.ts";
import { GATE_SELECT, toGate, type GateRow } from "./rows.ts";
import { num, q, toJson } from "./sqlText.ts";

/** Gates whose timeout is handled per upkeep pass, at most. */
export const GATE_SWEEP_BATCH = 16;

export async function selectGate(sql: SQL, gateId: string): Promise<GateRecord> {
  const [row] = await q<GateRow>(sql, `${GATE_SELECT} WHERE g.id = $1`, [gateId]);
  if (!row) throw new NotFoundError("gate", gateId, "list pending gates with `farcaster gates`");
  return toGate(row);
}

export async function openGate(ctx: TxContext, task: FencedTask, gate: GateRequest): Promise<void> {
  await q(
    ctx.sql,
    `INSERT INTO gates (id, run_id, task_id, step_key, question, evidence, subject_hash, asked_by, state, timeout_at, on_timeout, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11)`,
    [gate.id, task.run_id, task.id, gate.stepKey, gate.question, toJson(gate.evidence), gate.subjectHash ?? null, gate.askedBy,
      gate.timeoutAt ?? null, gate.onTimeout ?? "fail", ctx.now],
  );
  if (task.key === PLANNING_TASK_KEY) {
    await q(ctx.sql, "UPDATE runs SET state = 'awaiting_approval', updated_at = $1 WHERE id = $2 AND state = 'planning'", [ctx.now, task.run_id]);
  }
  appendEvent(ctx, { type: "gate.opened", actor: gate.askedBy, runId: task.run_id, taskId: task.id, data: { gate: gate.id, question: gate.question } });
}

export async function decideGateTx(ctx: TxContext, gateId: string, decision: GateDecision): Promise<GateRecord> {
  const [locked] = await q(ctx.sql, "SELECT id FROM gates WHERE id = $1 FOR UPDATE", [gateId]);
  if (!locked) throw new NotFoundError("gate", gateId, "list pending gates with `farcaster gates`");
  const gate = await selectGate(ctx.sql, gateId);
  if (gate.state !== "pending") throw new GateNotPendingError(gateId, gate.state, gate.decidedBy);
  const reason = decision.reason?.trim();
  if (!decision.approved && !reason) throw new InputError(`rejecting gate ${gateId} needs a reason (--reason TEXT): the task and the people after you act on it`);
  const action = decision.approved ? null : (decision.action ?? "fail");
  await q(ctx.sql, "UPDATE gates SET state = $1, decided_by = $2, decided_at = $3, reason = $4, action = $5 WHERE id = $6", [
    decision.approved ? "approved" : "rejected", decision.by, ctx.now, reason ?? null, action, gateId,
  ]);
  if (gate.taskId !== null) {
    let woken: unknown[];
    if (action === "retry") {
      // The task starts over with the reason as feedback: its journal is cleared so the work is redone.
      // The feedback array is JSON text written only here: appended to as text, so it reads back as written.
      const feedback = JSON.stringify({ gateId, reason, by: decision.by, at: ctx.now });
      woken = await q(
        ctx.sql,
        `UPDATE tasks SET state = 'ready', available_at = $1, updated_at = $1,
           feedback = CASE WHEN feedback IS NULL OR feedback = '[]' THEN '[' || $2 || ']' ELSE left(feedback, -1) || ',' || $2 || ']' END
         WHERE id = $3 AND state = 'waiting' RETURNING id`,
        [ctx.now, feedback, gate.taskId],
      );
      // (Only a task still waiting at this gate: one that went on meanwhile keeps its journal.)
      if (woken.length > 0) await clearJournal(ctx, gate.taskId);
    } else {
      // Approved, or rejected to fail: the workflow replays its approval step and receives the decision.
      woken = await q(ctx.sql, "UPDATE tasks SET state = 'ready', available_at = $1, updated_at = $1 WHERE id = $2 AND state = 'waiting' RETURNING id", [ctx.now, gate.taskId]);
    }
    if (woken.length > 0) ctx.ready = true;
  }
  if (gate.scheduleId !== null && decision.approved) {
    // The frozen plan is approved as it was shown (its hash): the schedule starts from now.
    await q(ctx.sql, "UPDATE schedules SET enabled = true, approved_hash = $1, last_slot = $2, updated_at = $2 WHERE id = $3", [gate.subjectHash, ctx.now, gate.scheduleId]);
    appendEvent(ctx, { type: "schedule.resumed", actor: decision.by, data: { schedule: gate.scheduleName ?? gate.scheduleId } });
  }
  if (gate.taskKey === PLANNING_TASK_KEY) {
    await q(ctx.sql, "UPDATE runs SET state = 'planning', updated_at = $1 WHERE id = $2 AND state = 'awaiting_approval'", [ctx.now, gate.runId]);
  }
  appendEvent(ctx, {
    type: decision.approved ? "gate.approved" : "gate.rejected",
    actor: decision.by,
    runId: gate.runId,
    taskId: gate.taskId,
    data: { gate: gateId, question: gate.question, reason: reason ?? null, action },
  });
  return selectGate(ctx.sql, gateId);
}

/** Clears a task's journal so its work is redone; what its model turns spent stays spent (the run's budget), on the task. */
async function clearJournal(ctx: TxContext, taskId: number): Promise<void> {
  await q(
    ctx.sql,
    `UPDATE tasks SET (spent_turns, spent_input_tokens, spent_output_tokens) = (
       SELECT tasks.spent_turns + count(s.usage_input_tokens), tasks.spent_input_tokens + coalesce(sum(s.usage_input_tokens), 0),
              tasks.spent_output_tokens + coalesce(sum(s.usage_output_tokens), 0)
       FROM steps s WHERE s.task_id = tasks.id AND s.status = 'completed')
     WHERE id = $1`,
    [taskId],
  );
  await q(ctx.sql, "DELETE FROM steps WHERE task_id = $1", [taskId]);
}

/** Pending gates past their timeout: fail their task, or mark them overdue (escalate). Bounded per call; gates being decided are passed by. */
export async function sweepGateTimeouts(ctx: TxContext, actor: string): Promise<number> {
  const due = (
    await q<GateRow>(
      ctx.sql,
      `WITH due AS (
         SELECT id FROM gates WHERE state = 'pending' AND timeout_at IS NOT NULL AND overdue_at IS NULL AND timeout_at <= $1
         ORDER BY timeout_at LIMIT ${GATE_SWEEP_BATCH} FOR UPDATE SKIP LOCKED
       )
       ${GATE_SELECT} WHERE g.id IN (SELECT id FROM due) ORDER BY g.timeout_at`,
      [ctx.now],
    )
  ).map(toGate);
  for (const gate of due) {
    const waitedMs = ctx.now - gate.createdAt;
    if (gate.onTimeout === "escalate") {
      await q(ctx.sql, "UPDATE gates SET overdue_at = $1 WHERE id = $2", [ctx.now, gate.id]);
      appendEvent(ctx, { type: "gate.overdue", actor, runId: gate.runId, taskId: gate.taskId, data: { gate: gate.id, question: gate.question, waitedMs } });
      continue;
    }
    await q(ctx.sql, "UPDATE gates SET state = 'expired', decided_at = $1 WHERE id = $2", [ctx.now, gate.id]);
    appendEvent(ctx, { type: "gate.expired", actor, runId: gate.runId, taskId: gate.taskId, data: { gate: gate.id, question: gate.question, waitedMs } });
    if (gate.taskId === null) continue;
    const [row] = await q<{ id: string; run_id: string; key: string; lease_owner: string; failures: number }>(
      ctx.sql,
      "SELECT id, run_id, key, lease_owner, failures FROM tasks WHERE id = $1 AND state = 'waiting' FOR UPDATE",
      [gate.taskId],
    );
    if (!row) continue;
    const task: FencedTask = { id: num(row.id), run_id: row.run_id, key: row.key, lease_owner: row.lease_owner };
    const message = `gate ${gate.id} ("${gate.question}") was not decided in time; a gate never approves itself`;
    await failForGood(ctx, task, JSON.stringify({ message, code: "gate_timeout" }), "timeout", row.failures, actor, null);
  }
  return due.length;
}
