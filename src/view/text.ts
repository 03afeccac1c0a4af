/**
 * Text for terminals, without the terminal: lines of styled segments, the
 * names of the styles, and clipping to a number of columns. Renderers map a
 * style name to what they can show (an escape code, an OpenTUI colour, or
 * nothing under NO_COLOR); the view models only name them.
 */

export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";

export interface Segment {
  text: string;
  style?: Style;
}

export type Line = Segment[];

/** How a state is shown, wherever it is shown. */
export const STATE_STYLE: Partial<Record<string, Style>> = {
  succeeded: "green",
  approved: "green",
  failed: "red",
  rejected: "red",
  expired: "red",
  skipped: "dim",
  cancelled: "dim",
  running: "cyan",
  waiting: "yellow",
  pending: "yellow",
  awaiting_approval: "yellow",
};

/** `text` cut to at most `width` terminal columns (wide characters count two), with … when cut. */
export function clip(text: string, width: number): string {
  const flat = text.replace(/[\r\n\t]/g, " ");
  if (Bun.stringWidth(flat) <= width) return flat;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  for (const char of flat) {
    const w = Bun.stringWidth(char);
    if (used + w > width - 1) break;
    out += char;
    used += w;
  }
  return out + "…";
}

/** A line's segments cut to `width` columns in all (a cut segment ends with …, and nothing follows it). */
export function clipLine(line: Line, width: number): Line {
  let left = width;
  const out: Line = [];
  for (const segment of line) {
    if (left <= 0) break;
    const text = clip(segment.text, left);
    left -= Bun.stringWidth(text);
    out.push(segment.style ? { text, style: segment.style } : { text });
    if (text.endsWith("…") && !segment.text.endsWith("…")) break;
  }
  return out;
}

/** The plain text of a line. */
export function lineText(line: Line): string {
  return line.map((segment) => segment.text).join("");
}

/** A line broken into rows of at most `width` columns (at any character: evidence and logs have no layout to keep). */
export function wrapLine(line: Line, width: number): Line[] {
  if (width <= 0) return [line];
  const rows: Line[] = [];
  let row: Line = [];
  let used = 0;
  for (const segment of line) {
    let text = "";
    for (const char of segment.text.replace(/[\r\t]/g, " ")) {
      const w = Bun.stringWidth(char);
      if (used + w > width) {
        if (text) row.push(segment.style ? { text, style: segment.style } : { text });
        rows.push(row);
        row = [];
        text = "";
        used = 0;
      }
      text += char;
      used += w;
    }
    if (text) row.push(segment.style ? { text, style: segment.style } : { text });
  }
  rows.push(row);
  return rows;
}
