/** Newline-delimited messages over a socket: reassembling lines, and writing them whole. */

/**
 * Splits incoming chunks into complete lines; keeps the pieces of a partial
 * last line for the next chunk. The pieces are joined once, when the line
 * ends: a long line (a claim's reply of 128 tasks spans many chunks) joined
 * and split again at every chunk cost time in the square of its length, a
 * fifth of a client process's CPU in a profile.
 */
export class LineBuffer {
  private pieces: string[] = [];
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): string[] {
    const text = this.decoder.decode(chunk, { stream: true });
    let end = text.indexOf("\n");
    if (end === -1) {
      if (text !== "") this.pieces.push(text);
      return [];
    }
    const lines: string[] = [];
    const take = (line: string) => {
      if (line !== "") lines.push(line);
    };
    this.pieces.push(text.slice(0, end));
    take(this.pieces.length === 1 ? this.pieces[0]! : this.pieces.join(""));
    this.pieces = [];
    for (let start = end + 1; ; start = end + 1) {
      end = text.indexOf("\n", start);
      if (end === -1) {
        if (start < text.length) this.pieces.push(text.slice(start));
        return lines;
      }
      take(text.slice(start, end));
    }
  }
}

/**
 * Messages queued in one turn go out in one write; what the socket does not
 * take at once (a full buffer) waits for its drain event, in order.
 */
export class Outbox {
  private queued = "";
  /** Encoded and not yet taken by the socket, oldest first (the first one perhaps partly taken). */
  private backlog: Uint8Array[] = [];
  private scheduled = false;
  private waiters: (() => void)[] = [];

  /** `write` returns how many bytes the socket took (Bun sockets may take fewer). */
  constructor(private readonly write: (data: Uint8Array) => number) {}

  send(text: string): void {
    if (this.discarded) return;
    this.queued += text;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** The socket can take more. */
  drain(): void {
    this.pump();
  }

  /** The socket is gone: what was not written never will be. */
  discard(): void {
    this.discarded = true;
    this.queued = "";
    this.backlog = [];
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private discarded = false;

  /** Resolves once everything sent so far was taken by the socket (or the socket is gone). */
  flushed(): Promise<void> {
    if (this.queued === "" && this.backlog.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    if (this.discarded) return;
    if (this.queued !== "") {
      this.backlog.push(ENCODER.encode(this.queued));
      this.queued = "";
    }
    // Chunk by chunk until the socket takes less than it was given (full: its drain event calls again).
    while (this.backlog.length > 0) {
      const chunk = this.backlog[0]!;
      const written = this.write(chunk);
      if (written < 0) return this.discard(); // the socket is closed
      if (written < chunk.length) {
        this.backlog[0] = chunk.subarray(written);
        return;
      }
      this.backlog.shift();
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

const ENCODER = new TextEncoder();
