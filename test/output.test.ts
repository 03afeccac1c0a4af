/**
 * Every byte reaches its reader: commands that print a lot, through a pipe
 * whose reader is slow, deliver exactly what they deliver to a file; a
 * reader that stops early is not an error.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { jsonPieces } from "../src/cli/jsonStream.ts";
import type { StepWrite } from "../src/store/types.ts";
import { ENTRY } from "./cli-helpers.ts";
import { freshDir, freshRealTimeStore } from "./helpers.ts";

/** A run big enough that each command below prints several hundred KB. */
async function bigRun(): Promise<{ db: string; runId: string; taskKey: string }> {
  const { store, path } = freshRealTimeStore();
  const padding = "lorem ipsum ".repeat(40);
  const tasks = Array.from({ length: 1_000 }, (_, i) => ({
    id: `t${i}`, title: `task ${i} ${padding}`, workflow: "noop", input: { note: padding, i }, after: i >= 10 ? [`t${i - 10}`] : [],
  }));
  // The lowest priority: claimed last, and left running with a long journal and a long log.
  const run = await store.createRun({ goal: "print a lot", tasks: [...tasks, { id: "busy", title: "busy", workflow: "noop", priority: -10 }] });
  for (let round = 0; round < 100; round++) {
    const claimed = await store.claimTasks("w", 10, 60_000);
    await Promise.all(claimed.map((c) => store.completeTask(c.taskId, c.attemptId, { padding })));
  }
  const [busyTask] = await store.claimTasks("w", 1, 600_000);
  if (busyTask?.key !== "busy") throw new Error("the fixture expected every other task to be done");
  for (let i = 0; i < 300; i++) {
    const step: StepWrite = { key: `s${i}`, seq: i + 1, kind: "step", status: "completed", input: { padding }, output: { padding }, error: null, startedAt: 0, endedAt: 1 };
    await store.recordStep(busyTask.taskId, busyTask.attemptId, step);
  }
  await store.appendLogs(busyTask.taskId, busyTask.attemptId, Array.from({ length: 2_000 }, (_, i) => ({ stream: "stdout" as const, text: `line ${i} ${padding}\n` })));
  await store.close();
  return { db: path, runId: run.id, taskKey: busyTask.key };
}

function toFile(args: string[], db: string, file: string) {
  return Bun.spawn([process.execPath, ENTRY, ...args, "--db", db], { cwd: freshDir(), stdout: Bun.file(file), stderr: "pipe", stdin: "ignore" });
}

function toPipe(args: string[], db: string) {
  return Bun.spawn([process.execPath, ENTRY, ...args, "--db", db], { cwd: freshDir(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
}

describe("output through a pipe", () => {
  test("status, inspect, log, logs and graph of a large run deliver every byte to a slow reader, and the JSON parses", async () => {
    const { db, runId, taskKey } = await bigRun();
    const commands: [string, string[], boolean][] = [
      ["status --json", ["status", runId, "--json"], true],
      ["inspect --json", ["inspect", `${runId}/${taskKey}`, "--json"], true],
      ["log --json", ["log", runId, "--json"], true],
      ["log", ["log", runId], false],
      ["logs", ["logs", `${runId}/${taskKey}`], false],
      ["graph", ["graph", runId], false],
    ];
    for (const [name, args, isJson] of commands) {
      const file = join(freshDir(), "out.txt");
      expect({ name, code: await toFile(args, db, file).exited }).toEqual({ name, code: 0 });
      const expected = readFileSync(file);
      expect({ name, large: expected.length > 2 * 65_536 }).toEqual({ name, large: true }); // more than twice a pipe's buffer

      const piped = toPipe(args, db);
      await Bun.sleep(1_000); // a slow reader: the pipe's 64 KiB fill up long before it reads
      const [bytes, code, stderr] = await Promise.all([new Response(piped.stdout).arrayBuffer(), piped.exited, new Response(piped.stderr).text()]);
      expect({ name, code, stderr, bytes: bytes.byteLength }).toEqual({ name, code: 0, stderr: "", bytes: expected.length });
      expect(Buffer.from(bytes).equals(expected)).toBe(true);
      if (isJson) expect(() => JSON.parse(Buffer.from(bytes).toString("utf8"))).not.toThrow();
    }
  }, 60_000);

  test("a reader that closes after 100 bytes is not an error: no stack trace, the usual exit", async () => {
    const { db, runId } = await bigRun();
    const proc = toPipe(["status", runId, "--json"], db);
    const reader = proc.stdout.getReader();
    let read = 0;
    while (read < 100) {
      const { value, done } = await reader.read();
      if (done) break;
      read += value.byteLength;
    }
    await reader.cancel();
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect([0, 141]).toContain(code);
    expect(stderr).not.toMatch(/unexpected error|EPIPE|\n\s+at /);
  }, 30_000);
});

describe("JSON in pieces", () => {
  test("is exactly what JSON.stringify(value, null, 2) writes, for every kind of value", () => {
    const values: unknown[] = [
      null, 0, -1.5, "text with \"quotes\" and \n newlines", true, [], {}, [[]], [{}],
      { a: 1, b: [1, 2, { c: null, d: [] }], e: { f: "g" } },
      { skipped: undefined, fn: () => 1, kept: 1, list: [undefined, () => 2, 3] },
      { date: new Date(0), nested: { toJSON: () => ({ replaced: true }) } },
      Array.from({ length: 50 }, (_, i) => ({ i, tags: [`t${i}`], deep: { deeper: { deepest: [i] } } })),
    ];
    for (const value of values) expect([...jsonPieces(value)].join("")).toBe(JSON.stringify(value, null, 2));
  });
});
