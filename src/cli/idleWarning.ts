/**
 * `farcaster serve` without drones: schedules fire and triggers create runs,
 * but nothing in this process runs their tasks. Said once at start, so a
 * server that would otherwise idle silently (every slot skipped behind a run
 * that never starts) says so and how to fix it.
 */
import type { Store } from "../store/types.ts";

export async function idleWarning(store: Store, workers: number): Promise<string | null> {
  if (workers > 0) return null;
  const [schedules, runs] = await Promise.all([store.listSchedules({ enabledOnly: true }), store.listRuns({ unfinished: true, limit: 1_000 })]);
  if (schedules.length === 0 && runs.length === 0) return null;
  const what = [schedules.length > 0 ? `${schedules.length} enabled schedule(s)` : "", runs.length > 0 ? `${runs.length} unfinished run(s)` : ""].filter(Boolean).join(" and ");
  return `farcaster serve: warning: no drones in this process (--workers 0) and ${what}: their tasks run only on drones started elsewhere; start some here with \`farcaster serve --workers 4\` or beside it with \`farcaster worker\` (\`farcaster doctor\` checks)`;
}
