/**
 * Drawing a run's progress (src/view/run.ts) for a terminal: rows become
 * lines of styled segments, each clipped to the terminal's width before any
 * colour is added, so a line never wraps; LiveBlock redraws them in place.
 * Off a terminal the main job prints plain event lines instead, never an
 * escape code.
 */
import { formatDuration } from "../core/duration.ts";
import type { RunProgress } from "../view/run.ts";
import { clipLine, STATE_STYLE, type Line } from "../view/text.ts";
import { paintLine } from "./output.ts";

export { clip, type Line, type Segment } from "../view/text.ts";

/** How many recent events the live view shows. */
export const LIVE_RECENT = 5;

export function progressLines(model: RunProgress): Line[] {
  const counts = model.counts.map((c) => `${c.count} ${c.state}`).join(" · ") || "no tasks yet";
  const lines: Line[] = [
    [{ text: `run ${model.runId}`, style: "bold" }, { text: "  " }, { text: model.state, style: STATE_STYLE[model.state] }, { text: `  ${counts}  ${formatDuration(model.elapsedMs)}` }],
  ];
  for (const row of model.running) {
    lines.push([{ text: "  " }, { text: "▸", style: "cyan" }, { text: ` ${row.key.padEnd(20)} ${row.drone.padEnd(24)} ${formatDuration(row.elapsedMs)}` }]);
  }
  for (const key of model.waiting) lines.push([{ text: "  " }, { text: "‖", style: "yellow" }, { text: ` ${key} waiting` }]);
  for (const line of model.recent.slice(-LIVE_RECENT)) lines.push([{ text: `  ${line}`, style: "dim" }]);
  return lines;
}

/** A line's text clipped to `width` columns, then painted (colour codes take no columns). */
export function renderLine(line: Line, width: number, color: boolean): string {
  return paintLine({ color }, clipLine(line, width));
}

export interface TerminalSize {
  columns: number;
  rows: number;
}

/**
 * Redraws a block of lines in place. Each line is kept one column short of
 * the width (a line that fills the last column leaves some terminals in a
 * pending wrap) and the block one row short of the height (the cursor cannot
 * move above the top of the screen), so moving up by the block's height
 * always lands on its first line and the new frame replaces the old exactly.
 */
export class LiveBlock {
  private height = 0;
  constructor(
    private readonly write: (text: string) => void,
    private readonly size: () => TerminalSize,
    private readonly color: boolean,
  ) {}

  draw(lines: readonly Line[]): void {
    const { columns, rows } = this.size();
    const shown = lines.slice(0, Math.max(1, rows - 1)).map((line) => renderLine(line, Math.max(1, columns - 1), this.color));
    this.write(this.up() + shown.join("\n") + "\n");
    this.height = shown.length;
  }

  clear(): void {
    if (this.height > 0) this.write(this.up());
    this.height = 0;
  }

  private up(): string {
    return this.height > 0 ? `\x1b[${this.height}F\x1b[J` : "";
  }
}

export function terminalSize(stream: { columns?: number; rows?: number } = process.stdout): TerminalSize {
  return { columns: stream.columns || 80, rows: stream.rows || 24 };
}
