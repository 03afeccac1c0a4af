/**
 * A client's connection to the store host: requests go out batched per
 * turn, replies come back by id. When the connection drops (the host exited
 * or was killed), the requests still waiting for a reply are handed back to
 * the owner, which sends them again to whoever hosts next.
 */
import type { Socket } from "bun";
import { LineBuffer, Outbox } from "./lines.ts";
import { decode, encode, encodeRequest, fromWireError, type Reply } from "./wire.ts";

export interface PendingRequest {
  method: string;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface ConnectionEvents {
  /** The host committed writes (its own or another client's). */
  changed(): void;
  /** The connection is gone; `pending` got no reply. */
  lost(pending: PendingRequest[]): void;
}

/** How long a host has to answer the hello before the client gives up on it (for now: see SharedSqliteStore's rejoin). */
export const HELLO_TIMEOUT_MS = 2_000;

export type ConnectResult = { connection: HostConnection } | { absent: "none" | "stale" | "refused"; detail?: string };

export class HostConnection {
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private closed = false;
  hostPid = 0;

  private constructor(
    private readonly socket: Socket<unknown>,
    private readonly outbox: Outbox,
    private readonly events: ConnectionEvents,
  ) {}

  /**
   * Connects and says hello; `absent` when nobody hosts (no socket, or a dead
   * host's file left behind). `signal`: stop waiting for the answer (the
   * store is closing); the result is then "refused".
   */
  static async connect(socketPath: string, dbPath: string, events: ConnectionEvents, helloTimeoutMs = HELLO_TIMEOUT_MS, signal?: AbortSignal): Promise<ConnectResult> {
    const lines = new LineBuffer();
    let connection: HostConnection | null = null;
    let greeting: (reply: Reply) => void = () => {};
    let socket: Socket<unknown>;
    try {
      socket = await Bun.connect({
        unix: socketPath,
        socket: {
          data: (_socket, chunk) => {
            for (const line of lines.push(chunk)) {
              const reply = decode<Reply>(line);
              if ("welcome" in reply || "refused" in reply) greeting(reply);
              else connection?.receive(reply);
            }
          },
          drain: () => connection?.outbox.drain(),
          // The host hung up (end: it closed its side; close, error: the connection is gone).
          end: (socket) => {
            connection?.drop();
            socket.end();
          },
          close: () => connection?.drop(),
          error: () => connection?.drop(),
        },
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { absent: code === "ECONNREFUSED" ? "stale" : "none", detail: code };
    }
    const outbox = new Outbox((data) => socket.write(data));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => greeting({ refused: "stopped waiting for the host's answer" });
    const answer = await new Promise<Reply | null>((resolve) => {
      greeting = resolve;
      timer = setTimeout(() => resolve(null), helloTimeoutMs);
      if (signal?.aborted) return stop();
      signal?.addEventListener("abort", stop, { once: true });
      outbox.send(encode({ hello: { db: dbPath, pid: process.pid } }));
    });
    clearTimeout(timer);
    signal?.removeEventListener("abort", stop);
    if (!answer || "refused" in answer) {
      socket.end();
      return { absent: "refused", detail: answer && "refused" in answer ? answer.refused : "no answer to hello" };
    }
    connection = new HostConnection(socket, outbox, events);
    if ("welcome" in answer) connection.hostPid = answer.welcome.pid;
    return { connection };
  }

  request(method: string, args: unknown[], resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
    if (this.closed) return this.events.lost([{ method, args, resolve, reject }]);
    const id = this.nextId++;
    this.pending.set(id, { method, args, resolve, reject });
    this.outbox.send(encodeRequest(id, method, args));
  }

  private receive(reply: Reply): void {
    if ("changed" in reply) return this.events.changed();
    if (!("id" in reply)) return;
    const request = this.pending.get(reply.id);
    if (!request) return;
    this.pending.delete(reply.id);
    if (reply.ok) request.resolve(reply.value);
    else request.reject(fromWireError(reply.error));
    if (this.pending.size === 0) this.idle?.();
  }

  private drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.discard();
    const unanswered = [...this.pending.values()];
    this.pending.clear();
    this.events.lost(unanswered);
  }

  /** Waits for replies to what was sent, then hangs up. */
  async close(): Promise<void> {
    if (!this.closed && this.pending.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.closed = true;
    await this.outbox.flushed();
    this.socket.end();
  }

  private idle: (() => void) | null = null;
}
