/**
 * What one pane shows, before it is fitted to the screen: a list (rows of
 * cells, one per selectable item, laid out as a table only for the rows that
 * fit) or a text (lines, wrapped to the width). And the small pieces of text
 * the panes share: states, tallies, durations, times of day.
 */
import { formatDuration } from "../core/duration.ts";
import { TALLY_MARKS, type Tally } from "../view/run.ts";
import { STATE_STYLE, type Line, type Style } from "../view/text.ts";
import type { Cell, Column } from "./layout.ts";
import type { Item } from "./state.ts";

interface PaneBase {
  title: string;
  /** What the page is about when no row says otherwise (keys a, r and c use it). */
  gateId?: string;
  runId?: string;
  /** Lines above the list or text that do not scroll (a summary, a legend). */
  head?: Line[];
  /** Shown instead of an empty list or text. */
  empty: string;
  filterable: boolean;
  /** What Enter, a, r or c do here, for the status line. */
  hint?: string;
}

export interface ListPane extends PaneBase {
  kind: "list";
  columns: readonly Column[];
  /** One per row, the filter already applied. */
  items: readonly Item[];
  /** The cells of row `index` (only the rows that fit are asked for). */
  cells(index: number): Cell[];
  /** The last row stays selected as rows are appended, until a person moves up (an event log). */
  follow?: boolean;
  /** Shown under the list about the selected row, in what height is left (a gate's question and evidence). */
  preview?(index: number): Line[];
}

export interface TextPane extends PaneBase {
  kind: "text";
  lines: Line[];
}

export type PaneContent = ListPane | TextPane;

export function stateCell(state: string): Line {
  const style = STATE_STYLE[state];
  return [style ? { text: state, style } : { text: state }];
}

const TALLY_STYLE: Record<string, Style | undefined> = { succeeded: "green", running: "cyan", ready: undefined, waiting: "yellow", failed: "red", skipped: "dim" };

/** "12✓ 2▸ 5○ 1‖ 0✗ 0↷ /40": each count with its mark, zeros dimmed. */
export function tallyCell(tally: Tally): Line {
  const line: Line = [];
  for (const [state, mark] of TALLY_MARKS) {
    const n = tally[state];
    const style = n === 0 ? "dim" : TALLY_STYLE[state];
    line.push(style ? { text: `${n}${mark}`, style } : { text: `${n}${mark}` }, { text: " " });
  }
  line.push({ text: `/${tally.total}`, style: "dim" });
  return line;
}

/** A duration, or "-" when there is none. */
export function duration(ms: number | null): string {
  return ms === null ? "-" : formatDuration(Math.max(0, ms));
}

/** "12s ago", "3m4s ago". */
export function ago(ms: number): string {
  return `${formatDuration(Math.max(0, ms))} ago`;
}

/** The time of day, HH:MM:SS, in the local time zone. */
export function clockTime(at: number): string {
  const date = new Date(at);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

export function filterItems<T>(rows: readonly T[], filter: string, text: (row: T) => string, matches: (text: string, filter: string) => boolean): T[] {
  return filter ? rows.filter((row) => matches(text(row), filter)) : [...rows];
}
