/** The recent runs as rows: state, progress, age, and whether a person is awaited. */
import type { RunState } from "../core/states.ts";
import type { GateRecord, RunRecord, StateCounts } from "../store/types.ts";
import { tallyOf, type Tally } from "./run.ts";

export interface RunRow {
  id: string;
  state: RunState;
  tally: Tally;
  ageMs: number;
  /** The goal's first line. */
  goal: string;
  /** Pending gates of the run: a person is awaited when this is above 0. */
  gatesPending: number;
}

export function runRows(runs: readonly RunRecord[], counts: Readonly<Record<string, StateCounts>>, pendingGates: readonly GateRecord[], now: number): RunRow[] {
  const gates = new Map<string, number>();
  for (const gate of pendingGates) if (gate.state === "pending" && gate.runId !== null) gates.set(gate.runId, (gates.get(gate.runId) ?? 0) + 1);
  return runs.map((run) => ({
    id: run.id,
    state: run.state,
    tally: tallyOf(counts[run.id] ?? {}),
    ageMs: now - run.createdAt,
    goal: run.goal.split("\n")[0]!.trim(),
    gatesPending: gates.get(run.id) ?? 0,
  }));
}
