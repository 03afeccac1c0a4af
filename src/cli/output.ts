/**
 * Human output: plain lines when stdout is not a terminal (no escape codes,
 * ever), a little colour when it is and NO_COLOR is unset.
 */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  json(value: unknown): void;
  readonly color: boolean;
}

export function consoleOutput(stream: { isTTY?: boolean } = process.stdout, env = process.env): Output {
  const color = Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return {
    color,
    out: (line) => process.stdout.write(line + "\n"),
    err: (line) => process.stderr.write(line + "\n"),
    json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + "\n"),
  };
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof CODES;

export function paint(output: Pick<Output, "color">, style: Style, text: string): string {
  if (!output.color) return text;
  const [open, close] = CODES[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

export const STATE_STYLE: Partial<Record<string, Style>> = {
  succeeded: "green",
  failed: "red",
  skipped: "dim",
  cancelled: "dim",
  running: "cyan",
  waiting: "yellow",
  awaiting_approval: "yellow",
};

export function paintState(output: Pick<Output, "color">, state: string): string {
  const style = STATE_STYLE[state];
  return style ? paint(output, style, state) : state;
}

/** A value as one line of JSON, cut to `max` characters. */
export function preview(value: unknown, max: number): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** Left-aligned columns; widths from the plain text so colour codes do not skew them. */
export function table(rows: string[][], plainRows: string[][] = rows): string[] {
  const widths: number[] = [];
  for (const row of plainRows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row, r) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - plainRows[r]![i]!.length)))
      .join("  ")
      .trimEnd(),
  );
}
