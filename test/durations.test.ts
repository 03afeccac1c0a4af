/**
 * Durations within what the runtime can hold: setTimeout fires at once past
 * 2^31-1 ms (about 24.8 days), so long timers re-arm in chunks
 * (src/core/timers.ts); durations beyond ten years are refused by name.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { realTicker } from "../src/core/clock.ts";
import { MAX_DURATION_MS, parseDuration } from "../src/core/duration.ts";
import { MAX_TIMER_MS, setLongInterval, setLongTimeout, type TimerApi } from "../src/core/timers.ts";
import { validateWorkplan } from "../src/core/workplan.ts";
import { farcaster, spawnFarcaster, until } from "./cli-helpers.ts";
import { attemptOnce, submitOne, workflow } from "./engine-helpers.ts";
import { freshDir, freshStore } from "./helpers.ts";

const DAY = 86_400_000;

/**
 * Timers on a virtual clock that hold what the runtime holds: a delay past
 * MAX_TIMER_MS is an error here (the runtime would fire it at once).
 */
class VirtualTimers implements TimerApi {
  now = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  longestArmed = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    if (ms > MAX_TIMER_MS) throw new Error(`a timer of ${ms} ms would fire at once`);
    this.longestArmed = Math.max(this.longestArmed, ms);
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = end;
  }
}

describe("long timers", () => {
  for (const days of [24, 25, 30]) {
    test(`a ${days}-day timeout fires after ${days} days, not before, with no chunk longer than the runtime holds`, () => {
      const timers = new VirtualTimers();
      let fired = 0;
      setLongTimeout(() => fired++, days * DAY, timers);
      timers.advance(days * DAY - 1);
      expect(fired).toBe(0);
      timers.advance(1);
      expect(fired).toBe(1);
      timers.advance(100 * DAY);
      expect(fired).toBe(1);
      expect(timers.longestArmed).toBeLessThanOrEqual(MAX_TIMER_MS);
    });
  }

  test("a long timeout cancelled between chunks never fires", () => {
    const timers = new VirtualTimers();
    let fired = 0;
    const cancel = setLongTimeout(() => fired++, 60 * DAY, timers);
    timers.advance(40 * DAY);
    cancel();
    timers.advance(40 * DAY);
    expect(fired).toBe(0);
  });

  test("a 30-day interval fires every 30 days until stopped", () => {
    const timers = new VirtualTimers();
    const at: number[] = [];
    const stop = setLongInterval(() => at.push(timers.now), 30 * DAY, timers);
    timers.advance(95 * DAY);
    expect(at).toEqual([30 * DAY, 60 * DAY, 90 * DAY]);
    stop();
    timers.advance(60 * DAY);
    expect(at).toHaveLength(3);
  });

  test("the real ticker does not fire an interval longer than the runtime holds at once", async () => {
    let beats = 0;
    let shortBeats = 0;
    const stop = realTicker.every(30 * DAY, () => beats++);
    const short = realTicker.every(5, () => shortBeats++); // a short one still works beside it
    // An overflowing 30-day interval fires at about 1 ms: by the tenth short beat it would have fired many times.
    await until(() => shortBeats >= 10, 5_000, "ten beats of the short interval");
    stop();
    short();
    expect(beats).toBe(0);
  });
});

describe("task timeouts of many days", () => {
  for (const timeout of ["24d", "25d", "30d"]) {
    test(`a task with timeout ${timeout} runs to success instead of timing out at once`, async () => {
      const { store, clock } = freshStore();
      const wf = workflow("slowish", async () => {
        await Bun.sleep(30);
        return { ok: true };
      });
      const { taskId } = await submitOne(store, wf, { timeout });
      expect((await store.getTask(taskId)).timeoutMs).toBe(parseDuration(timeout)!);
      const result = await attemptOnce(store, clock, wf);
      expect(result).toMatchObject({ outcome: "succeeded" });
      expect(await store.getTask(taskId)).toMatchObject({ state: "succeeded" });
    });
  }

  test("a duration past the limit is refused by the validator, naming the limit", () => {
    const plan = (timeout: unknown) => ({ version: 1, goal: "g", tasks: [{ id: "a", title: "a", workflow: "noop", input: {}, timeout }] });
    expect(validateWorkplan(plan("3650d")).ok).toBe(true);
    for (const timeout of ["3651d", `${"9".repeat(400)}d`, MAX_DURATION_MS + 1]) {
      const result = validateWorkplan(plan(timeout));
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).toContain("at most 3650d");
    }
  });
});

describe("long --lease and --grace", () => {
  test("--lease and --grace past the limit exit 2 naming it", async () => {
    for (const option of ["--lease", "--grace"]) {
      const result = await farcaster(["worker", option, "4000d"], { cwd: freshDir() });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${option} must be a duration such as 500ms, 30s or 2m, at most 3650d (got "4000d")`);
    }
  });

  test("a worker with a 30-day lease and a 30-day grace finishes a running task on Ctrl-C instead of releasing it at once", async () => {
    const dir = freshDir();
    const marker = join(dir, "started");
    writeFileSync(join(dir, "plan.json"), JSON.stringify({
      version: 1, goal: "long lease",
      tasks: [{ id: "slow", title: "slow", workflow: "shell", input: { command: `touch ${marker} && sleep 0.5 && echo finished` } }],
    }));
    const created = await farcaster(["run", "plan.json", "--detach", "--json"], { cwd: dir });
    expect(created.code).toBe(0);
    const runId = JSON.parse(created.stdout).run.id;
    const worker = spawnFarcaster(["worker", "--lease", "30d", "--grace", "30d"], { cwd: dir });
    await until(async () => await Bun.file(marker).exists(), 30_000, "the command to run");
    worker.proc.kill("SIGTERM");
    expect(await worker.proc.exited).toBe(0);
    const status = JSON.parse((await farcaster(["status", runId, "--json"], { cwd: dir })).stdout);
    expect(status.tasks.find((task: { key: string }) => task.key === "slow")).toMatchObject({ state: "succeeded", attempts: 1 });
  }, 60_000);
});
