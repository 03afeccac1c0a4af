/**
 * Durations people write: 500, "500ms", "30s", "5m", "2h", "1d". Returns
 * milliseconds. Long ones are fine (timers re-arm past the runtime's limit,
 * src/core/timers.ts) up to MAX_DURATION_MS, so that "now + duration" stays
 * an exact integer in every store; beyond it, or not a duration: undefined.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration accepted anywhere: 3650 days (ten years). */
export const MAX_DURATION_MS = 3650 * 86_400_000;
export const MAX_DURATION_TEXT = "3650d";

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 && value <= MAX_DURATION_MS ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? "ms"]!);
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1_000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
}
