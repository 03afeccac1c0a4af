/**
 * What both stores share to answer readMetrics: bucketing in SQL (one CASE
 * over bound parameters, so a scan returns a few rows per label rather than
 * every duration) and folding those rows into cumulative histograms here.
 *
 * /metrics exposes counters and histograms, which a scraper takes to only
 * grow (a drop reads as a restart). So they are computed only from rows the
 * store never deletes nor changes once counted: attempts (an ended attempt
 * keeps its state and times), the event log, and the gates of runs. Not from
 * the journal (steps): a retry, a resume and a reject with retry delete steps.
 * Not from a schedule's approval gate: removing the schedule deletes it.
 * Durations are clamped at zero, since a sum must not shrink either, and the
 * clocks of two machines may disagree.
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

/** One SQL row of a histogram: its label values (`labels` columns), a bucket index, how many fell in it and their sum. */
export type BucketRow<L extends string> = Record<L, string> & { bucket: number; n: number; sum: number };

/**
 * Rows of (labels, bucket index, count, sum) into one cumulative histogram per
 * distinct label values, ordered by those values (code-unit order, the same
 * on both stores).
 */
export function foldHistograms<L extends string>(rows: readonly BucketRow<L>[], labels: readonly L[], bounds: readonly number[]): { labels: Record<L, string>; histogram: DurationHistogram }[] {
  const byKey = new Map<string, { labels: Record<L, string>; perBucket: number[]; count: number; sumMs: number }>();
  for (const row of rows) {
    const values: string[] = labels.map((label): string => row[label]);
    const key = JSON.stringify(values);
    let entry = byKey.get(key);
    if (!entry) {
      const own = Object.fromEntries(labels.map((label, i) => [label, values[i]])) as Record<L, string>;
      byKey.set(key, (entry = { labels: own, perBucket: new Array(bounds.length + 1).fill(0), count: 0, sumMs: 0 }));
    }
    entry.perBucket[row.bucket]! += row.n;
    entry.count += row.n;
    entry.sumMs += row.sum;
  }
  const byLabels = (a: Record<L, string>, b: Record<L, string>) => {
    for (const label of labels) if (a[label] !== b[label]) return a[label] < b[label] ? -1 : 1;
    return 0;
  };
  return [...byKey.values()].sort((a, b) => byLabels(a.labels, b.labels)).map(({ labels: own, perBucket, count, sumMs }) => {
    let running = 0;
    const cumulative = bounds.map((_, i) => (running += perBucket[i]!));
    return { labels: own, histogram: { boundsMs: [...bounds], cumulative, count, sumMs } };
  });
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
