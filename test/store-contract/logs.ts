/** Task output: appended by the attempt that holds the lease, listed and paged by id. */
import { describe, expect, test } from "bun:test";
import type { OpenDb } from "./harness.ts";
import { claimOne, plan } from "./support.ts";

export function logContract(open: OpenDb): void {
  describe("task output", () => {
    test("appended output is listed in order with its stream, text, attempt and time, the time defaulting to now", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      expect(await store.appendLogs(a.taskId, a.attemptId, [{ stream: "info", text: "$ make\n" }, { stream: "stdout", text: "built\n", at: clock.now() - 5 }])).toBe(2);
      clock.advance(10);
      expect(await store.appendLogs(a.taskId, a.attemptId, [{ stream: "stderr", text: "warning\n" }])).toBe(1);
      const logs = await store.listLogs(a.taskId);
      expect(logs.map(({ id: _, ...rest }) => rest)).toEqual([
        { taskId: a.taskId, attemptId: a.attemptId, stream: "info", text: "$ make\n", at: clock.now() - 10 },
        { taskId: a.taskId, attemptId: a.attemptId, stream: "stdout", text: "built\n", at: clock.now() - 15 },
        { taskId: a.taskId, attemptId: a.attemptId, stream: "stderr", text: "warning\n", at: clock.now() },
      ]);
      expect(logs.every((entry, i) => i === 0 || entry.id > logs[i - 1]!.id)).toBe(true);
    });

    test("listLogs pages through a task's output with afterId and limit", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      await store.appendLogs(a.taskId, a.attemptId, Array.from({ length: 7 }, (_, i) => ({ stream: "stdout" as const, text: `line ${i}\n` })));
      const all = await store.listLogs(a.taskId);
      expect(all.map((l) => l.text)).toEqual(Array.from({ length: 7 }, (_, i) => `line ${i}\n`));
      expect((await store.listLogs(a.taskId, { limit: 3 })).map((l) => l.text)).toEqual(["line 0\n", "line 1\n", "line 2\n"]);
      expect((await store.listLogs(a.taskId, { afterId: all[2]!.id, limit: 2 })).map((l) => l.text)).toEqual(["line 3\n", "line 4\n"]);
      expect(await store.listLogs(a.taskId, { afterId: all[6]!.id })).toEqual([]);
    });

    test("output of an attempt that lost its lease is dropped, appendLogs says so with 0, and the new attempt's output is kept", async () => {
      const { store, clock } = await open();
      await store.createRun(plan(["a"]));
      const stale = await claimOne(store, "old", 1_000);
      await store.appendLogs(stale.taskId, stale.attemptId, [{ stream: "stdout", text: "early\n" }]);
      clock.advance(5_000);
      const fresh = await claimOne(store, "new", 1_000);
      expect(await store.appendLogs(stale.taskId, stale.attemptId, [{ stream: "stdout", text: "late\n" }])).toBe(0);
      expect(await store.appendLogs(fresh.taskId, fresh.attemptId, [{ stream: "stdout", text: "fresh\n" }])).toBe(1);
      expect((await store.listLogs(stale.taskId)).map((l) => [l.attemptId, l.text])).toEqual([[stale.attemptId, "early\n"], [fresh.attemptId, "fresh\n"]]);
    });

    test("a task's output is its own: another task's output is not listed with it", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"], ["b"]));
      const [a, b] = await store.claimTasks("w", 2, 10_000);
      await store.appendLogs(a!.taskId, a!.attemptId, [{ stream: "stdout", text: "from a\n" }]);
      await store.appendLogs(b!.taskId, b!.attemptId, [{ stream: "stdout", text: "from b\n" }]);
      expect((await store.listLogs(a!.taskId)).map((l) => l.text)).toEqual(["from a\n"]);
      expect((await store.listLogs(b!.taskId)).map((l) => l.text)).toEqual(["from b\n"]);
    });

    test("appending no entries keeps nothing and returns 0", async () => {
      const { store } = await open();
      await store.createRun(plan(["a"]));
      const a = await claimOne(store);
      expect(await store.appendLogs(a.taskId, a.attemptId, [])).toBe(0);
      expect(await store.listLogs(a.taskId)).toEqual([]);
    });
  });
}
