/** The dialogs that take the keys: rejecting a gate (with a reason), cancelling a run, and the list of keys. */
import { clipLine, type Line } from "../view/text.ts";
import type { ScreenData } from "./data.ts";
import { wrapLines } from "./layout.ts";
import type { UiState } from "./state.ts";

export interface Dialog {
  title: string;
  lines: Line[];
  /** Columns inside the border. */
  width: number;
}

export const HELP_LINES: readonly (readonly [string, string])[] = [
  ["↑ ↓  j k", "move; in a text, scroll"],
  ["PgUp PgDn  g G", "a page up or down; the start or the end"],
  ["Enter", "open the selected run, task, gate or event"],
  ["Esc  Backspace", "go back (or clear the filter)"],
  ["Tab  Shift-Tab", "the next or previous pane"],
  ["a", "approve the selected gate"],
  ["r", "reject it: type the reason (required); Tab: retry or fail"],
  ["c", "cancel the selected run (asks first)"],
  ["/", "filter the list; Enter keeps the filter, Esc clears it"],
  ["?", "this list"],
  ["q  Ctrl-C", "quit"],
];

const KEY_COLUMN = 16;

/** Rows of a key and what it does; what it does wraps under itself. */
function helpLines(width: number): Line[] {
  return HELP_LINES.flatMap(([keys, what]) =>
    wrapLines([[{ text: what }]], Math.max(10, width - KEY_COLUMN)).map((line, i) => [{ text: (i === 0 ? keys : "").padEnd(KEY_COLUMN), style: "bold" as const }, ...line]),
  );
}

function gateQuestion(data: ScreenData | null, gateId: string): string | null {
  const all = [...(data?.overview.pendingGates ?? []), ...(data?.data.kind === "run" ? data.data.summary.gates : []), ...(data?.data.kind === "gate" ? [data.data.gate] : [])];
  return all.find((gate) => gate.id === gateId)?.question ?? null;
}

export function dialog(ui: UiState, data: ScreenData | null, width: number): Dialog | null {
  const shown = content(ui, data, width);
  return shown && { ...shown, lines: shown.lines.map((line) => clipLine(line, shown.width)) };
}

function content(ui: UiState, data: ScreenData | null, width: number): Dialog | null {
  const inner = Math.max(20, width - 2);
  const mode = ui.mode;
  switch (mode.kind) {
    case "browse":
    case "filter":
      return null;
    case "help":
      return {
        title: "Keys",
        width: inner,
        lines: [
          ...helpLines(inner),
          [],
          ...wrapLines([[{ text: "✓ succeeded  ▸ running  ○ ready  ‖ waiting  ✗ failed  ↷ skipped  ⚑ a person is awaited", style: "dim" }]], inner),
          [{ text: "any key closes this", style: "dim" }],
        ],
      };
    case "reject": {
      const question = gateQuestion(data, mode.gateId);
      const box = (on: boolean) => (on ? "[x]" : "[ ]");
      return {
        title: `Reject gate ${mode.gateId}`,
        width: inner,
        lines: [
          ...(question ? wrapLines([[{ text: question, style: "bold" }]], inner).slice(0, 3) : []),
          [],
          [{ text: "Reason (required; the task receives it):", style: "dim" }],
          ...wrapLines([[{ text: "> " }, { text: mode.reason }, { text: "▌" }]], inner),
          mode.problem ? [{ text: mode.problem, style: "red" }] : [],
          [{ text: `${box(mode.action === "fail")} fail the task   ${box(mode.action === "retry")} retry it with the reason as feedback` }],
          [],
          [{ text: "Tab", style: "bold" }, { text: " switches  " }, { text: "Enter", style: "bold" }, { text: " records the rejection  " }, { text: "Esc", style: "bold" }, { text: " abandons" }],
        ],
      };
    }
    case "cancel":
      return {
        title: `Cancel run ${mode.runId}?`,
        width: inner,
        lines: [
          ...wrapLines([[{ text: "Its unfinished tasks are cancelled; running ones stop at their next write. A cancelled run can be resumed later (farcaster resume)." }]], inner),
          [],
          [{ text: "y", style: "bold" }, { text: " cancels the run   " }, { text: "n", style: "bold" }, { text: " or " }, { text: "Esc", style: "bold" }, { text: " keeps it" }],
        ],
      };
  }
}
