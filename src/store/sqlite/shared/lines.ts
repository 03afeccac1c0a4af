/** Newline-delimited messages over a socket: reassembling lines, and writing them whole. */

/** Splits incoming chunks into complete lines; keeps a partial last line for the next chunk. */
export class LineBuffer {
  private partial = "";
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): string[] {
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    this.partial = lines.pop()!;
    return lines.filter((line) => line !== "");
  }
}

/**
 * Messages queued in one turn go out in one write; what the socket does not
 * take at once (a full buffer) waits for its drain event, in order.
 */
export class Outbox {
  private queued = "";
  private backlog: Uint8Array | null = null;
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
    this.backlog = null;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private discarded = false;

  /** Resolves once everything sent so far was taken by the socket (or the socket is gone). */
  flushed(): Promise<void> {
    if (this.queued === "" && this.backlog === null) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    if (this.discarded) return;
    if (this.queued !== "") {
      const fresh = new TextEncoder().encode(this.queued);
      this.queued = "";
      this.backlog = this.backlog ? concat(this.backlog, fresh) : fresh;
    }
    if (this.backlog) {
      const written = this.write(this.backlog);
      if (written < 0) return this.discard(); // the socket is closed
      const taken = written;
      this.backlog = taken >= this.backlog.length ? null : this.backlog.subarray(taken);
    }
    if (this.backlog === null && this.queued === "") for (const resolve of this.waiters.splice(0)) resolve();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
