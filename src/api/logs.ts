/**
 * GET /v1/runs/:id/tasks/:key/logs: a task's output (stdout, stderr, info
 * lines), as `farcaster logs RUN/TASK` shows it. As JSON, a page of lines
 * after a cursor; as Server-Sent Events (`?follow=1` or `Accept:
 * text/event-stream`), every line and then each new one, until the task has
 * ended and its last line is sent, then an `end` event.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { TERMINAL_TASK_STATES } from "../core/states.ts";
import { documented } from "./openapi.ts";
import type { ApiOptions } from "./options.ts";
import { sse, SSE_KEEP_ALIVE_MS, wantsStream } from "./sse.ts";
import { cursor, query, wholeNumber } from "./validate.ts";

export const ReadLogs = z
  .object({
    after: wholeNumber({ fallback: 0 }).describe("only the lines after this log id (streams: Last-Event-ID wins)"),
    limit: wholeNumber({ min: 1, max: 5000, fallback: 1000 }).describe("lines per page (JSON only)"),
    follow: z.enum(["1", "true", "0", "false"]).optional().describe("1: stream as Server-Sent Events until the task has ended"),
  })
  .strict();

export function logRoutes(v1: Hono, options: ApiOptions): void {
  const { store } = options;

  v1.get(
    "/runs/:id/tasks/:key/logs",
    documented({ tag: "runs", summary: "A task's output lines; ?follow=1 (or Accept: text/event-stream) streams them until the task has ended", query: ReadLogs, sse: "optional" }),
    async (c) => {
      const q = query(c, ReadLogs);
      const task = await store.findTask(c.req.param("id"), c.req.param("key")); // 404 before any stream starts
      const about = { id: task.id, runId: task.runId, key: task.key };
      if (!wantsStream(c)) {
        const logs = await store.listLogs(task.id, { afterId: q.after, limit: q.limit });
        return c.json({ task: { ...about, state: task.state }, logs, next: logs.at(-1)?.id ?? q.after });
      }
      const header = c.req.header("last-event-id");
      const after = header === undefined ? q.after : cursor(header, "Last-Event-ID (a log id)");
      return sse(c, options.sseKeepAliveMs ?? SSE_KEEP_ALIVE_MS, async (stream, signal) => {
        let state = task.state;
        const until = async () => TERMINAL_TASK_STATES.has((state = (await store.getTask(task.id)).state));
        for await (const line of store.followLogs(task.id, { after, signal, until })) {
          await stream.writeSSE({ id: String(line.id), event: "log", data: JSON.stringify({ ...line, taskKey: task.key }) });
        }
        if (!signal.aborted) await stream.writeSSE({ event: "end", data: JSON.stringify({ task: { ...about, state } }) });
      }, `the log stream of task ${task.key}`);
    },
  );
}
