/**
 * Signals: named, persisted facts (first write wins) that tasks wait for.
 * Emitting and waking the waiters is one transaction; a task that suspends
 * for a signal already emitted stays ready, so a signal that raced the wait
 * is never lost. Two emitters of one name meet at its primary key: the
 * second waits for the first to commit and changes nothing.
 */
import type { SQL } from "bun";
import type { EmitResult, SignalRecord } from "../types.ts";
import { appendEvent, type TxContext } from "./context.ts";
import { fromJson, num, q, toJson } from "./sqlText.ts";

interface SignalRow {
  name: string;
  data: string | null;
  emitted_by: string;
  emitted_at: string;
}

function toSignal(row: SignalRow): SignalRecord {
  return { name: row.name, data: fromJson(row.data), emittedBy: row.emitted_by, emittedAt: num(row.emitted_at) };
}

export async function selectSignal(sql: SQL, name: string): Promise<SignalRecord | null> {
  const [row] = await q<SignalRow>(sql, "SELECT name, data, emitted_by, emitted_at FROM signals WHERE name = $1", [name]);
  return row ? toSignal(row) : null;
}

export async function emitSignalTx(ctx: TxContext, name: string, data: unknown, by: string): Promise<EmitResult> {
  const inserted = await q(
    ctx.sql,
    "INSERT INTO signals (name, data, emitted_by, emitted_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name",
    [name, toJson(data ?? null), by, ctx.now],
  );
  const signal = (await selectSignal(ctx.sql, name))!;
  if (inserted.length === 0) return { signal, created: false, woken: 0 };
  const woken = (
    await q(ctx.sql, "UPDATE tasks SET state = 'ready', available_at = $1, waiting_for = NULL, updated_at = $1 WHERE state = 'waiting' AND waiting_for = $2 RETURNING id", [ctx.now, name])
  ).length;
  if (woken > 0) ctx.ready = true;
  appendEvent(ctx, { type: "signal.emitted", actor: by, data: { name, woken } });
  return { signal, created: true, woken };
}

/** Called as a task suspends to wait for `name`: records what it waits for, or keeps it ready if the signal is here. */
export async function waitForSignal(ctx: TxContext, taskId: number, name: string): Promise<void> {
  const present = (await selectSignal(ctx.sql, name)) !== null;
  await q(
    ctx.sql,
    `UPDATE tasks SET waiting_for = $1, state = CASE WHEN $2 THEN 'ready' ELSE state END, available_at = CASE WHEN $2 THEN $3 ELSE available_at END WHERE id = $4`,
    [present ? null : name, present, ctx.now, taskId],
  );
  if (present) ctx.ready = true;
}
