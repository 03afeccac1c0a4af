/**
 * Output a workflow logs (ctx.log) goes to the store in batches, every
 * FLUSH_MS or when the batch grows large, so a chatty command costs a few
 * transactions per second rather than one per line. Logs are not journaled:
 * they are for people watching, not for replay.
 */
import type { LogEntry, Store } from "../store/types.ts";

const FLUSH_MS = 250;
const FLUSH_BYTES = 64 * 1024;
/** Beyond this much unflushed output, the oldest is dropped (a stalled database must not grow memory). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export class LogBuffer {
  private pending: LogEntry[] = [];
  private bytes = 0;
  private dropped = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly taskId: number,
    private readonly attemptId: number,
    private readonly now: () => number,
  ) {}

  push(stream: LogEntry["stream"], text: string): void {
    if (text === "") return;
    this.pending.push({ stream, text, at: this.now() });
    this.bytes += text.length;
    while (this.bytes > MAX_PENDING_BYTES && this.pending.length > 1) {
      this.bytes -= this.pending.shift()!.text.length;
      this.dropped++;
    }
    if (this.bytes >= FLUSH_BYTES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is pending; failures are swallowed (output is best effort, the journal is not). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    // Nothing logged: no write (a task that logs nothing must not pay a store call per attempt).
    if (batch.length === 0 && this.dropped === 0) return this.flushing;
    if (this.dropped > 0) batch.unshift({ stream: "info", text: `[${this.dropped} earlier output chunk(s) dropped while the database was slow]\n`, at: this.now() });
    this.pending = [];
    this.bytes = 0;
    this.dropped = 0;
    this.flushing = this.flushing.then(() => this.store.appendLogs(this.taskId, this.attemptId, batch).then(() => undefined, () => undefined));
    return this.flushing;
  }
}
