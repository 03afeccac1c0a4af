/** One task in detail: its attempts, its journal (each step's input, output, status and timing) and its output. */
import type { AttemptState, StepStatus } from "../core/states.ts";
import type { AttemptRecord, LogRecord, StepRecord } from "../store/types.ts";

export interface AttemptRow {
  number: number;
  id: number;
  worker: string;
  state: AttemptState;
  startedAt: number;
  /** Ended: how long it ran; running: so far. */
  tookMs: number;
  heartbeatAgoMs: number | null;
  error: string | null;
}

export function attemptRows(attempts: readonly AttemptRecord[], now: number): AttemptRow[] {
  return attempts.map((a) => ({
    number: a.number,
    id: a.id,
    worker: a.worker,
    state: a.state,
    startedAt: a.startedAt,
    tookMs: (a.endedAt ?? now) - a.startedAt,
    heartbeatAgoMs: a.endedAt === null ? now - a.heartbeatAt : null,
    error: a.error ? a.error.message : null,
  }));
}

export interface StepRow {
  seq: number;
  key: string;
  kind: string;
  status: StepStatus;
  attemptId: number;
  tookMs: number | null;
  /** JSON, one line each. */
  input: string;
  /** The output (completed), the error (failed), or what it waits for (waiting). */
  result: string;
  tokens: string | null;
}

/** A value as one line of JSON. */
export function oneLine(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

export function stepRows(steps: readonly StepRecord[]): StepRow[] {
  return steps.map((s) => ({
    seq: s.seq,
    key: s.key,
    kind: s.kind,
    status: s.status,
    attemptId: s.attemptId,
    tookMs: s.endedAt === null ? null : s.endedAt - s.startedAt,
    input: oneLine(s.input),
    result: s.status === "failed" ? (s.error?.message ?? "failed") : oneLine(s.output),
    tokens: s.usage ? `${s.usage.inputTokens}+${s.usage.outputTokens} tok` : null,
  }));
}

/** Output entries as lines: entries are chunks of text, so they are joined, then split at newlines. */
export function logLines(logs: readonly LogRecord[]): { stream: LogRecord["stream"]; text: string }[] {
  const lines: { stream: LogRecord["stream"]; text: string }[] = [];
  let open = false; // the last line has no newline yet: the next entry of its stream continues it
  for (const entry of logs) {
    const parts = entry.text.split("\n");
    parts.forEach((part, i) => {
      const last = lines.at(-1);
      if (i === 0 && open && last && last.stream === entry.stream) last.text += part;
      else if (part !== "" || i < parts.length - 1) lines.push({ stream: entry.stream, text: part });
    });
    open = !entry.text.endsWith("\n");
  }
  return lines;
}
