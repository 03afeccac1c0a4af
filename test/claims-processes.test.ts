import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freshRealTimeStore } from "./helpers.ts";

const CLAIMER = join(import.meta.dir, "fixtures", "claimer.ts");

describe("claiming from several processes", () => {
  test("4 processes on one SQLite file run a fan-out/fan-in DAG: every task once, dependencies first", async () => {
    const { store, path } = freshRealTimeStore();
    // root -> 60 branches of 4-task chains -> join
    const tasks = [{ id: "root", title: "root", workflow: "noop", after: [] as string[] }];
    for (let b = 0; b < 60; b++) {
      for (let s = 0; s < 4; s++) tasks.push({ id: `b${b}s${s}`, title: "step", workflow: "noop", after: [s === 0 ? "root" : `b${b}s${s - 1}`] });
    }
    tasks.push({ id: "join", title: "join", workflow: "noop", after: Array.from({ length: 60 }, (_, b) => `b${b}s3`) });
    const run = await store.createRun({ goal: "swarm", tasks });

    const startAt = String(Date.now() + 1_000);
    const procs = Array.from({ length: 4 }, (_, i) =>
      Bun.spawn([process.execPath, CLAIMER, path, run.id, `proc-${i}`, startAt], { stdout: "pipe", stderr: "inherit" }),
    );
    const results = await Promise.all(procs.map(async (p) => JSON.parse(await new Response(p.stdout).text()) as number[]));
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);

    const all = results.flat();
    expect(all).toHaveLength(tasks.length);
    expect(new Set(all).size).toBe(tasks.length); // no task completed twice
    expect(results.filter((r) => r.length > 0).length).toBeGreaterThan(1); // the work was actually shared

    const final = await store.getRun(run.id);
    expect(final).toMatchObject({ state: "succeeded", tasksOpen: 0 });
    const records = await store.listTasks(run.id);
    expect(records.every((t) => t.state === "succeeded" && t.attempts === 1)).toBe(true);

    // Dependencies first: each task's start event comes after its dependencies' success events.
    const events = await store.listEvents({ runId: run.id, limit: 10_000 });
    const startedAt = new Map(events.filter((e) => e.type === "task.started").map((e) => [e.taskId!, e.id]));
    const succeededAt = new Map(events.filter((e) => e.type === "task.succeeded").map((e) => [e.taskId!, e.id]));
    const idOf = new Map(records.map((t) => [t.key, t.id]));
    for (const task of records) {
      for (const dep of task.after) expect(startedAt.get(task.id)!).toBeGreaterThan(succeededAt.get(idOf.get(dep)!)!);
    }
  });
});
