/** Laying text out in columns and rows of a given width: tables, right-aligned ends, wrapped text. */
import { clipLine, wrapLine, type Line, type Segment, type Style } from "../view/text.ts";

export interface Column {
  header: string;
  /** The most columns it takes (cells are cut with …). */
  max?: number;
  /** Takes what the other columns leave (one column per table). */
  flex?: boolean;
  align?: "right";
}

export type Cell = Line | string;

function cellLine(cell: Cell): Line {
  return typeof cell === "string" ? [{ text: cell }] : cell;
}

export function lineWidth(line: Line): number {
  let width = 0;
  for (const segment of line) width += Bun.stringWidth(segment.text);
  return width;
}

/** A line cut or padded to exactly `width` columns. */
export function padLine(line: Line, width: number, align: "left" | "right" = "left"): Line {
  const clipped = clipLine(line, width);
  const gap = width - lineWidth(clipped);
  if (gap <= 0) return clipped;
  return align === "right" ? [{ text: " ".repeat(gap) }, ...clipped] : [...clipped, { text: " ".repeat(gap) }];
}

/**
 * A table of `width` columns: a header line and one line per row, columns
 * two spaces apart, each as wide as its widest cell (up to its max), the
 * flex column taking the rest.
 */
export function table(columns: readonly Column[], rows: readonly Cell[][], width: number): { header: Line; lines: Line[] } {
  const lines = rows.map((row) => row.map(cellLine));
  const widths = columns.map((column, i) => {
    let w = Bun.stringWidth(column.header);
    for (const row of lines) w = Math.max(w, lineWidth(row[i] ?? []));
    return Math.min(w, column.max ?? Infinity);
  });
  const gaps = 2 * (columns.length - 1);
  const flex = columns.findIndex((column) => column.flex);
  if (flex >= 0) {
    const others = widths.reduce((sum, w, i) => (i === flex ? sum : sum + w), 0);
    widths[flex] = Math.max(Bun.stringWidth(columns[flex]!.header), width - others - gaps);
  }
  const render = (cells: Line[], style?: Style): Line => {
    const out: Segment[] = [];
    cells.forEach((cell, i) => {
      if (i > 0) out.push({ text: "  " });
      const styled = style ? cell.map((s) => ({ ...s, style })) : cell;
      out.push(...padLine(styled, widths[i]!, columns[i]!.align === "right" ? "right" : "left"));
    });
    return clipLine(out, width);
  };
  return { header: render(columns.map((c) => [{ text: c.header }]), "dim"), lines: lines.map((cells) => render(cells)) };
}

/** `left`, then `right` flush with the end of `width` columns (the left side is cut first). */
export function spread(left: Line, right: Line, width: number): Line {
  const rightWidth = lineWidth(right);
  if (rightWidth + 1 >= width) return clipLine(right, width);
  return [...padLine(left, width - rightWidth - 1), { text: " " }, ...right];
}

/** Lines wrapped to `width`. */
export function wrapLines(lines: readonly Line[], width: number): Line[] {
  return lines.flatMap((line) => wrapLine(line, width));
}

