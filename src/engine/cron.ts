/**
 * Cron slots, computed by croner. A slot is the instant a schedule is due;
 * each one fires at most once (the store keys fires by schedule and slot).
 * Which of the slots that came due while nobody was looking get fired is the
 * schedule's catch-up policy:
 *   latest  only the most recent missed slot (default)
 *   all     every missed slot inside a bounded window
 *   none    none of them; only a slot that is due right now fires
 */
import { Cron } from "croner";
import { InputError } from "../core/errors.ts";
import type { CatchUpPolicy } from "../core/states.ts";

/** A slot found within this long after its time counts as "on time", not missed (the scheduler re-checks every ≤ 30 s). */
export const ON_TIME_MS = 60_000;
/** `all` catches up at most this far back, and at most this many slots. */
export const CATCH_UP_WINDOW_MS = 24 * 3_600_000;
export const CATCH_UP_MAX_SLOTS = 100;

export interface CronSpec {
  cron: string;
  timezone: string;
}

function cronOf(spec: CronSpec): Cron {
  return new Cron(spec.cron, { timezone: spec.timezone, paused: true });
}

/** Checks an expression and a timezone; the error names the field and the fix. */
export function validateCron(spec: CronSpec): void {
  try {
    Intl.DateTimeFormat("en-US", { timeZone: spec.timezone });
  } catch {
    throw new InputError(`timezone "${spec.timezone}" is not an IANA timezone; use a name such as UTC, Europe/Berlin or America/New_York`);
  }
  let next: Date | null;
  try {
    next = cronOf(spec).nextRun();
  } catch (error) {
    const why = (error as Error).message.replace(/^CronPattern: /, "").replace(/\.$/, ""); // croner's class name means nothing to a user
    throw new InputError(`cron expression "${spec.cron}" is invalid: ${why}; five fields (minute hour day month weekday) or six with seconds first, e.g. "0 9 * * 1-5"`);
  }
  // A pattern croner accepts but no date matches (the 31st of February) would be stored and never fire.
  if (next === null) throw new InputError(`cron expression "${spec.cron}" never matches a date; check its day and month fields (the 31st of February, say), e.g. "0 9 28 2 *"`);
}

/** The next slot strictly after `afterMs`, or null if the expression never fires again. */
export function nextSlot(spec: CronSpec, afterMs: number): number | null {
  return cronOf(spec).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** Slots in (afterMs, untilMs], oldest first, at most `max` (the most recent ones are kept). */
export function slotsBetween(spec: CronSpec, afterMs: number, untilMs: number, max = CATCH_UP_MAX_SLOTS): { slots: number[]; total: number } {
  const cron = cronOf(spec);
  const slots: number[] = [];
  let total = 0;
  let cursor: Date | null = new Date(afterMs);
  for (;;) {
    cursor = cron.nextRun(cursor);
    if (!cursor || cursor.getTime() > untilMs) break;
    total++;
    slots.push(cursor.getTime());
    if (slots.length > max) slots.shift();
    if (total > 1_000_000) break; // a seconds-level cron after years of downtime: stop counting
  }
  return { slots, total };
}

export interface DueSlots {
  /** Slots to fire now, oldest first. */
  fire: number[];
  /** Slots that came due but will not fire, under the catch-up policy. */
  missed: number;
}

/** What to fire at `now`, given the last slot handled (or when the schedule was created). */
export function dueSlots(spec: CronSpec, lastHandledMs: number, now: number, catchUp: CatchUpPolicy): DueSlots {
  const since = catchUp === "all" ? Math.max(lastHandledMs, now - CATCH_UP_WINDOW_MS) : lastHandledMs;
  const { slots, total } = slotsBetween(spec, since, now);
  const beforeWindow = catchUp === "all" ? slotsBetween(spec, lastHandledMs, since, 1).total : 0;
  if (slots.length === 0) return { fire: [], missed: beforeWindow };
  const latest = slots[slots.length - 1]!;
  switch (catchUp) {
    case "all":
      return { fire: slots, missed: total - slots.length + beforeWindow };
    case "latest":
      return { fire: [latest], missed: total - 1 };
    case "none":
      return now - latest <= ON_TIME_MS ? { fire: [latest], missed: total - 1 } : { fire: [], missed: total };
  }
}
