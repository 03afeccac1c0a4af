/**
 * Signals: named, persisted facts (first write wins) that tasks wait for.
 * Emitting and waking the waiters is one transaction; a task that suspends
 * for a signal already emitted stays ready, so a signal that raced the wait
 * is never lost.
 */
import { appendEvent, type TxContext } from "./context.ts";
import { fromJson, toJson } from "./rows.ts";
import type { EmitResult, SignalRecord } from "../types.ts";

interface SignalRow {
  name: string;
  data: string | null;
  emitted_by: string;
  emitted_at: number;
}

function toSignal(row: SignalRow): SignalRecord {
  return { name: row.name, data: fromJson(row.data), emittedBy: row.emitted_by, emittedAt: row.emitted_at };
}

export function selectSignal(ctx: TxContext, name: string): SignalRecord | null {
  const row = ctx.db.query<SignalRow, [string]>("SELECT * FROM signals WHERE name = ?").get(name);
  return row ? toSignal(row) : null;
}

export function emitSignalTx(ctx: TxContext, name: string, data: unknown, by: string): EmitResult {
  const inserted = ctx.db
    .query("INSERT INTO signals (name, data, emitted_by, emitted_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING")
    .run(name, toJson(data ?? null), by, ctx.now).changes;
  const signal = selectSignal(ctx, name)!;
  if (inserted === 0) return { signal, created: false, woken: 0 };
  const woken = ctx.db
    .query(`UPDATE tasks SET state = 'ready', available_at = ?1, waiting_for = NULL, updated_at = ?1 WHERE state = 'waiting' AND waiting_for = ?2`)
    .run(ctx.now, name).changes;
  appendEvent(ctx, { type: "signal.emitted", actor: by, data: { name, woken } });
  return { signal, created: true, woken };
}

/** Called as a task suspends to wait for `name`: records what it waits for, or keeps it ready if the signal is here. */
export function waitForSignal(ctx: TxContext, taskId: number, name: string): void {
  const present = selectSignal(ctx, name) !== null;
  ctx.db
    .query(`UPDATE tasks SET waiting_for = ?, state = CASE WHEN ? THEN 'ready' ELSE state END, available_at = CASE WHEN ? THEN ? ELSE available_at END WHERE id = ?`)
    .run(present ? null : name, present ? 1 : 0, present ? 1 : 0, ctx.now, taskId);
}
