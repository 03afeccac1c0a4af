/**
 * What a schedule did, as rows of plain data: each of its events as a
 * decision (fired with its run, skipped because of overlap, missed with the
 * count and the catch-up policy, failed with the error) and times shown in
 * the schedule's own timezone, with the offset, so 09:00 in Europe/Berlin
 * reads 09:00+01:00 rather than 08:00Z.
 */
import type { ScheduleEvent } from "../core/events.ts";

export type ScheduleDecisionKind = "created" | "paused" | "resumed" | "removed" | "fired" | "skipped" | "missed" | "failed";

export interface ScheduleDecision {
  /** The event's id (a cursor in the event log). */
  id: number;
  at: number;
  /** `at` in the schedule's timezone, ISO 8601 with its offset. */
  atLocal: string;
  decision: ScheduleDecisionKind;
  /** The slot decided about (for missed: the last slot passed over); null for what people did. */
  slot: number | null;
  slotLocal: string | null;
  /** The run a fire created. */
  runId: string | null;
  /** Why, in words: the run, the unfinished run, the count and policy, the error. */
  detail: string;
  /** The decision in one short phrase, for a column: "fired r1…", "skipped: …", "missed 3 (catch-up: latest)". */
  summary: string;
  /** Who decided: a scheduler, a person, the API. */
  actor: string;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function formatIn(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** `ms` as the wall-clock time in `timeZone`, ISO 8601 with that zone's offset then: 2026-11-26T09:00:00+01:00. */
export function zonedTime(ms: number, timeZone: string): string {
  const parts: Record<string, string> = {};
  for (const part of formatIn(timeZone).formatToParts(new Date(ms))) parts[part.type] = part.value;
  // longOffset is "GMT+01:00", or "GMT" alone for a zero offset.
  const offset = parts.timeZoneName!.replace(/^GMT/, "") || "+00:00";
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

function decisionOf(event: ScheduleEvent, timeZone: string): Pick<ScheduleDecision, "decision" | "slot" | "runId" | "detail" | "summary"> {
  switch (event.type) {
    case "schedule.created":
      return { decision: "created", slot: null, runId: null, detail: `cron ${event.data.cron} (${event.data.timezone})`, summary: "created" };
    case "schedule.paused":
      return { decision: "paused", slot: null, runId: null, detail: "", summary: "paused" };
    case "schedule.resumed":
      return { decision: "resumed", slot: null, runId: null, detail: "slots count from now", summary: "resumed" };
    case "schedule.removed":
      return { decision: "removed", slot: null, runId: null, detail: "", summary: "removed" };
    case "schedule.fired": {
      const cancelled = event.data.cancelled.length > 0 ? `; cancelled ${event.data.cancelled.join(", ")} (overlap: cancel-previous)` : "";
      return { decision: "fired", slot: event.data.slot, runId: event.runId, detail: `run ${event.runId}${cancelled}`, summary: `fired ${event.runId}` };
    }
    case "schedule.skipped": {
      const detail = `the previous run ${event.data.running.join(", ")} was unfinished (overlap: skip)`;
      return { decision: "skipped", slot: event.data.slot, runId: null, detail, summary: `skipped: ${detail}` };
    }
    case "schedule.missed": {
      const slots = event.data.missed === 1 ? "1 slot" : `${event.data.missed} slots`;
      return {
        decision: "missed", slot: event.data.through, runId: null,
        detail: `${slots} through ${zonedTime(event.data.through, timeZone)} did not fire (catch-up: ${event.data.policy})`,
        summary: `missed ${event.data.missed} (catch-up: ${event.data.policy})`,
      };
    }
    case "schedule.failed":
      return { decision: "failed", slot: event.data.slot, runId: null, detail: event.data.error, summary: `failed: ${event.data.error}` };
  }
}

export function scheduleDecision(event: ScheduleEvent, timeZone: string): ScheduleDecision {
  const decision = decisionOf(event, timeZone);
  return {
    id: event.id, at: event.at, atLocal: zonedTime(event.at, timeZone), ...decision,
    slotLocal: decision.slot === null ? null : zonedTime(decision.slot, timeZone), actor: event.actor,
  };
}
