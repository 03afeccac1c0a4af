/**
 * What commands print, and making sure it arrives. Human output: plain lines
 * when stdout is not a terminal (no escape codes, ever), a little colour when
 * it is and NO_COLOR is unset. JSON: what JSON.stringify(value, null, 2)
 * prints, written in pieces so a large run is never one huge string.
 *
 * Every write is tracked: `flush()` resolves once the runtime has handed all
 * of it to the reader. Exiting before that loses what is still buffered (Bun
 * buffers writes to a full pipe itself and reports nothing pending), so the
 * entry point awaits flush() before it exits. A reader that went away
 * (`| head`) is not an error: further output is dropped quietly.
 */
import { STATE_STYLE, type Line, type Style } from "../view/text.ts";
import { jsonPieces } from "./jsonStream.ts";

export interface Output {
  out(line: string): void;
  err(line: string): void;
  json(value: unknown): void;
  /** Raw text to stdout (the live view's redraws). */
  write(text: string): void;
  /** Resolves once everything written so far has reached stdout and stderr. */
  flush(): Promise<void>;
  readonly color: boolean;
}

/** Writes to one stream, remembering the last write's completion; stops at EPIPE. */
class TrackedStream {
  private last: Promise<void> = Promise.resolve();
  private closed = false;
  constructor(private readonly stream: NodeJS.WriteStream) {
    // EPIPE: the reader went away. Any other error on stdout or stderr: nothing more can be shown either.
    stream.on("error", () => {
      this.closed = true;
    });
  }

  write(text: string): void {
    if (this.closed || text === "") return;
    this.last = new Promise<void>((resolve) => {
      this.stream.write(text, (error) => {
        if (error) this.closed = true;
        resolve();
      });
    });
  }

  flush(): Promise<void> {
    return this.last;
  }
}

/** Pieces of JSON are gathered into writes of about this size. */
const JSON_CHUNK = 64 * 1024;

export function consoleOutput(stream: { isTTY?: boolean } = process.stdout, env = process.env): Output {
  const color = Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== "dumb";
  const stdout = new TrackedStream(process.stdout);
  const stderr = new TrackedStream(process.stderr);
  return {
    color,
    out: (line) => stdout.write(line + "\n"),
    err: (line) => stderr.write(line + "\n"),
    write: (text) => stdout.write(text),
    json: (value) => {
      let chunk = "";
      for (const piece of jsonPieces(value)) {
        chunk += piece;
        if (chunk.length >= JSON_CHUNK) {
          stdout.write(chunk);
          chunk = "";
        }
      }
      stdout.write(chunk + "\n");
    },
    flush: () => Promise.all([stdout.flush(), stderr.flush()]).then(() => {}),
  };
}

const CODES: Record<Style, readonly [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] };
export { STATE_STYLE, type Style } from "../view/text.ts";

export function paint(output: Pick<Output, "color">, style: Style, text: string): string {
  if (!output.color) return text;
  const [open, close] = CODES[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

/** A line of styled segments as text, painted when colour is on. */
export function paintLine(output: Pick<Output, "color">, line: Line): string {
  return line.map((segment) => (segment.style ? paint(output, segment.style, segment.text) : segment.text)).join("");
}

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
