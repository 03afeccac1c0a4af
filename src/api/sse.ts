/**
 * Server-Sent Events for the run's event stream and a task's log stream: one
 * place that ties the stream to the client's disconnect and sends the
 * keep-alive comment.
 */
import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";

/**
 * Proxies and load balancers close a connection that says nothing for a while
 * (often 30 to 60 s), and a client cannot tell a quiet run from a dead
 * server: a comment line every 15 s keeps both (EventSource ignores comments).
 */
export const SSE_KEEP_ALIVE_MS = 15_000;

/**
 * Streams what `body` writes; `signal` aborts when the client goes away.
 * While the stream is open, a `: keep-alive` comment goes out every
 * `keepAliveMs`; it stops when `body` returns or the client leaves. A client
 * that dropped the stream is not a fault; any other failure of `what` (e.g.
 * "the event stream of run r1") is one line in the server's log.
 */
export function sse(c: Context, keepAliveMs: number, body: (stream: SSEStreamingApi, signal: AbortSignal) => Promise<void>, what: string): Response {
  const aborted = new AbortController();
  const onError = async (error: Error) => {
    if (!aborted.signal.aborted && !c.req.raw.signal?.aborted) console.error(`farcaster serve: ${what} failed: ${error?.message ?? error}`);
  };
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => aborted.abort());
    // A write after the client left is dropped by hono's stream (it catches the error).
    const timer = setInterval(() => void stream.write(": keep-alive\n\n"), keepAliveMs);
    try {
      await body(stream, aborted.signal);
    } finally {
      clearInterval(timer);
    }
  }, onError);
}

/** The client asked for a stream: `?follow=1` (or true), or `Accept: text/event-stream`. */
export function wantsStream(c: Context): boolean {
  const follow = c.req.query("follow");
  return follow === "1" || follow === "true" || (c.req.header("accept") ?? "").includes("text/event-stream");
}
