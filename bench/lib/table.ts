/** Plain-text output: markdown tables (readable as text too), number formats, targets. */
import { spread } from "./stats.ts";

/** A markdown table with padded columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

/** A sample as "median (min–max)", as the ratio tables print each round's ratios; "–" for none. */
export function spreadText(sample: readonly number[], digits = 2): string {
  if (sample.length === 0) return "–";
  const { median, min, max } = spread(sample);
  return `${fixed(median, digits)} (${fixed(min, digits)}–${fixed(max, digits)})`;
}

export function percent(share: number | null): string {
  return share === null ? "n/a" : `${Math.round(share * 100)}%`;
}

export function megabytes(bytes: number): string {
  return fixed(bytes / 1e6, 1);
}

/** A goal the project set itself, and whether this run met it. */
export interface Target {
  name: string;
  measured: string;
  pass: boolean;
}

export function targetTable(targets: Target[]): string {
  return table(["target", "measured", "result"], targets.map((t) => [t.name, t.measured, t.pass ? "PASS" : "FAIL"]));
}
