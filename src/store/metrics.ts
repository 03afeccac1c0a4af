/**
 * What both stores share to answer readMetrics: bucketing in SQL (one CASE
 * over bound parameters, so a scan returns a few rows per label rather than
 * every duration) and folding those rows into cumulative histograms here.
 */
import type { DurationHistogram, ScheduleDecision } from "./types.ts";
import type { EventType } from "../core/events.ts";

/** `CASE WHEN d <= $1 THEN 0 WHEN d <= $2 THEN 1 ... ELSE n END` over `column`, with a placeholder per bound. */
export function bucketCase(column: string, bounds: readonly number[], placeholder: (index: number) => string): string {
  if (bounds.length === 0) return String(0);
  const arms = bounds.map((_, i) => `WHEN ${column} <= ${placeholder(i)} THEN ${i}`).join(" ");
  return `CASE ${arms} ELSE ${bounds.length} END`;
}

export function checkBounds(name: string, bounds: readonly number[]): void {
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!)) throw new RangeError(`${name} must be finite and ascending (got ${bounds.join(", ")})`);
  }
}

export interface BucketRow {
  label: string;
  bucket: number;
  n: number;
  sum: number;
}

/** Rows of (label, bucket index, count, sum) into one cumulative histogram per label, in label order. */
export function foldHistograms(rows: readonly BucketRow[], bounds: readonly number[]): Map<string, DurationHistogram> {
  const byLabel = new Map<string, { perBucket: number[]; count: number; sumMs: number }>();
  for (const row of rows) {
    let entry = byLabel.get(row.label);
    if (!entry) byLabel.set(row.label, (entry = { perBucket: new Array(bounds.length + 1).fill(0), count: 0, sumMs: 0 }));
    entry.perBucket[row.bucket]! += row.n;
    entry.count += row.n;
    entry.sumMs += row.sum;
  }
  const out = new Map<string, DurationHistogram>();
  for (const label of [...byLabel.keys()].sort()) {
    const { perBucket, count, sumMs } = byLabel.get(label)!;
    let running = 0;
    const cumulative = bounds.map((_, i) => (running += perBucket[i]!));
    out.set(label, { boundsMs: [...bounds], cumulative, count, sumMs });
  }
  return out;
}

/** The events that record a schedule's decision about a slot. */
export const SCHEDULE_DECISION_EVENTS: Readonly<Record<ScheduleDecision, EventType>> = {
  fired: "schedule.fired",
  skipped: "schedule.skipped",
  failed: "schedule.failed",
  missed: "schedule.missed",
};

export const decisionOf = (type: string): ScheduleDecision =>
  (Object.keys(SCHEDULE_DECISION_EVENTS) as ScheduleDecision[]).find((d) => SCHEDULE_DECISION_EVENTS[d] === type)!;
