/**
 * Human gates: opened by a task as it suspends, decided by a person (CLI,
 * HTTP, dashboard: all through decideGateTx), swept for timeouts by claims.
 * A gate never approves itself: a timeout fails the task or escalates.
 */
import { GateNotPendingError, InputError, NotFoundError } from "../../core/errors.ts";
import type { GateDecision, GateRecord, GateRequest } from "../types.ts";
import { PLANNING_TASK_KEY } from "../../core/states.ts";
import { sql } from "./statements.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { failForGood, type FencedTask } from "./outcomes.ts";
import { GATE_SELECT, toGate, toJson, type GateRow } from "./rows.ts";

/** Gates whose timeout is handled per upkeep pass, at most; a literal in the SQL like RECLAIM_BATCH. */
export const GATE_SWEEP_BATCH = 16;

export function selectGate(ctx: TxContext, gateId: string): GateRecord {
  const row = sql<GateRow, [string]>(ctx.db, `${GATE_SELECT} WHERE g.id = ?`).get(gateId);
  if (!row) throw new NotFoundError("gate", gateId, "list pending gates with `farcaster gates`");
  return toGate(row);
}

export function openGate(ctx: TxContext, task: FencedTask, gate: GateRequest): void {
  sql(
    ctx.db,
    `INSERT INTO gates (id, run_id, task_id, step_key, question, evidence, subject_hash, asked_by, state, timeout_at, on_timeout, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
  ).run(gate.id, task.run_id, task.id, gate.stepKey, gate.question, toJson(gate.evidence), gate.subjectHash ?? null, gate.askedBy,
      gate.timeoutAt ?? null, gate.onTimeout ?? "fail", ctx.now);
  if (task.key === PLANNING_TASK_KEY) {
    sql(ctx.db, "UPDATE runs SET state = 'awaiting_approval', updated_at = ? WHERE id = ? AND state = 'planning'").run(ctx.now, task.run_id);
  }
  appendEvent(ctx, { type: "gate.opened", actor: gate.askedBy, runId: task.run_id, taskId: task.id, data: { gate: gate.id, question: gate.question } });
}

export function decideGateTx(ctx: TxContext, gateId: string, decision: GateDecision): GateRecord {
  const gate = selectGate(ctx, gateId);
  if (gate.state !== "pending") throw new GateNotPendingError(gateId, gate.state, gate.decidedBy);
  const reason = decision.reason?.trim();
  if (!decision.approved && !reason) throw new InputError(`rejecting gate ${gateId} needs a reason (--reason TEXT): the task and the people after you act on it`);
  const action = decision.approved ? null : (decision.action ?? "fail");
  sql(ctx.db, "UPDATE gates SET state = ?, decided_by = ?, decided_at = ?, reason = ?, action = ? WHERE id = ?")
    .run(decision.approved ? "approved" : "rejected", decision.by, ctx.now, reason ?? null, action, gateId);

  if (gate.taskId !== null) {
    if (action === "retry") {
      // The task starts over with the reason as feedback: its journal is cleared so the work is redone.
      // (Only a task still waiting at this gate: one that went on meanwhile keeps its journal.)
      const feedback = { gateId, reason, by: decision.by, at: ctx.now };
      const woken = sql(
        ctx.db,
        `UPDATE tasks SET state = 'ready', available_at = ?, updated_at = ?,
           feedback = json_insert(coalesce(feedback, '[]'), '$[#]', json(?))
         WHERE id = ? AND state = 'waiting'`,
      ).run(ctx.now, ctx.now, JSON.stringify(feedback), gate.taskId).changes;
      if (woken > 0) clearJournal(ctx, gate.taskId);
    } else {
      // Approved, or rejected to fail: the workflow replays its approval step and receives the decision.
      sql(ctx.db, "UPDATE tasks SET state = 'ready', available_at = ?, updated_at = ? WHERE id = ? AND state = 'waiting'").run(ctx.now, ctx.now, gate.taskId);
    }
  }
  if (gate.scheduleId !== null && decision.approved) {
    // The frozen plan is approved as it was shown (its hash): the schedule starts from now.
    sql(ctx.db, "UPDATE schedules SET enabled = 1, approved_hash = ?, last_slot = ?, updated_at = ? WHERE id = ?").run(gate.subjectHash, ctx.now, ctx.now, gate.scheduleId);
    appendEvent(ctx, { type: "schedule.resumed", actor: decision.by, data: { schedule: gate.scheduleName ?? gate.scheduleId } });
  }
  if (gate.taskKey === PLANNING_TASK_KEY) {
    sql(ctx.db, "UPDATE runs SET state = 'planning', updated_at = ? WHERE id = ? AND state = 'awaiting_approval'").run(ctx.now, gate.runId);
  }
  appendEvent(ctx, {
    type: decision.approved ? "gate.approved" : "gate.rejected",
    actor: decision.by,
    runId: gate.runId,
    taskId: gate.taskId,
    data: { gate: gateId, question: gate.question, reason: reason ?? null, action },
  });
  return selectGate(ctx, gateId);
}

/** Clears a task's journal so its work is redone; what its model turns spent stays spent (the run's budget), on the task. */
function clearJournal(ctx: TxContext, taskId: number): void {
  sql(
    ctx.db,
    `UPDATE tasks SET (spent_turns, spent_input_tokens, spent_output_tokens) = (
       SELECT spent_turns + count(s.usage_input_tokens), spent_input_tokens + coalesce(sum(s.usage_input_tokens), 0),
              spent_output_tokens + coalesce(sum(s.usage_output_tokens), 0)
       FROM steps s WHERE s.task_id = tasks.id AND s.status = 'completed')
     WHERE id = ?`,
  ).run(taskId);
  sql(ctx.db, "DELETE FROM steps WHERE task_id = ?").run(taskId);
}

/** Pending gates past their timeout: fail their task, or mark them overdue (escalate). Bounded per call. */
export function sweepGateTimeouts(ctx: TxContext, actor: string): number {
  const due = sql<GateRow, [number]>(
    ctx.db,
    `${GATE_SELECT} WHERE g.state = 'pending' AND g.timeout_at IS NOT NULL AND g.overdue_at IS NULL AND g.timeout_at <= ?
     ORDER BY g.timeout_at LIMIT ${GATE_SWEEP_BATCH}`,
  )
    .all(ctx.now)
    .map(toGate);
  for (const gate of due) {
    const waitedMs = ctx.now - gate.createdAt;
    if (gate.onTimeout === "escalate") {
      sql(ctx.db, "UPDATE gates SET overdue_at = ? WHERE id = ?").run(ctx.now, gate.id);
      appendEvent(ctx, { type: "gate.overdue", actor, runId: gate.runId, taskId: gate.taskId, data: { gate: gate.id, question: gate.question, waitedMs } });
      continue;
    }
    sql(ctx.db, "UPDATE gates SET state = 'expired', decided_at = ? WHERE id = ?").run(ctx.now, gate.id);
    appendEvent(ctx, { type: "gate.expired", actor, runId: gate.runId, taskId: gate.taskId, data: { gate: gate.id, question: gate.question, waitedMs } });
    if (gate.taskId === null) continue;
    const task = sql<FencedTask & { failures: number }, [number]>(
      ctx.db,
      "SELECT id, run_id, key, lease_owner, failures FROM tasks WHERE id = ? AND state = 'waiting'",
    ).get(gate.taskId);
    if (!task) continue;
    const message = `gate ${gate.id} ("${gate.question}") was not decided in time; a gate never approves itself`;
    failForGood(ctx, task, JSON.stringify({ message, code: "gate_timeout" }), "timeout", task.failures, actor, null);
  }
  return due.length;
}
