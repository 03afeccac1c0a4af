import { describe, expect, test } from "bun:test";
import { clip, LiveBlock, progressLines, renderLine } from "../src/cli/live.ts";
import type { EventRecord } from "../src/core/events.ts";
import type { RunRecord, TaskRecord } from "../src/store/types.ts";
import { countByState, describeEvent, runProgress } from "../src/view/run.ts";

/**
 * Just enough of a terminal to check redraws: lines wrap at `columns`, the
 * screen is the last `rows` lines, `ESC[nF` moves up n lines (never above the
 * screen's top), `ESC[J` clears to the end, colour codes take no room.
 */
class VirtualTerminal {
  lines: string[] = [""];
  row = 0;
  col = 0;
  constructor(readonly columns: number, readonly rows: number) {}

  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const char = text[i]!;
      if (char === "\x1b") {
        const match = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i))!;
        i += match[0].length - 1;
        if (match[2] === "F") this.moveUp(Number(match[1] || 1));
        else if (match[2] === "J") this.clearBelow();
        continue;
      }
      if (char === "\n") this.newline();
      else this.put(char);
    }
  }

  private top(): number {
    return Math.max(0, this.lines.length - this.rows);
  }

  private moveUp(n: number): void {
    this.row = Math.max(this.top(), this.row - n);
    this.col = 0;
  }

  private clearBelow(): void {
    this.lines.length = this.row + 1;
    this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
  }

  private newline(): void {
    this.row++;
    this.col = 0;
    if (this.lines.length <= this.row) this.lines.push("");
  }

  private put(char: string): void {
    if (this.col >= this.columns) this.newline(); // the pending wrap
    const line = this.lines[this.row]!;
    this.lines[this.row] = line.slice(0, this.col) + char + line.slice(this.col + 1);
    this.col += Bun.stringWidth(char);
  }

  /** Everything on screen and in scrollback, trailing empty line dropped. */
  text(): string[] {
    return this.lines.at(-1) === "" ? this.lines.slice(0, -1) : [...this.lines];
  }
}

const now = Date.UTC(2026, 11, 1, 12);

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return { id: "r0abc", goal: "g", state: "running", source: null, sourceHash: null, cwd: null, idempotencyKey: null, requestHash: null, tasksTotal: 3, tasksOpen: 2, tasksFailed: 0, createdAt: now - 65_000, updatedAt: now, finishedAt: null, ...overrides };
}

function task(id: number, key: string, state: TaskRecord["state"], leaseOwner: string | null = null, attemptStartedAt: number | null = null): TaskRecord & { attemptStartedAt: number | null } {
  return {
    attemptStartedAt,
    id, runId: "r0abc", key, title: key, description: null, workflow: "shell", input: {}, scope: null, priority: 0, maxAttempts: 1, timeoutMs: null, state,
    pendingDeps: 0, attempts: 0, failures: 0, crashes: 0, availableAt: now, attemptId: null, leaseOwner, leaseExpiresAt: null, output: null, error: null,
    failReason: null, createdAt: now, updatedAt: now, startedAt: null, finishedAt: null, after: [], feedback: [],
  };
}

const LONG = "x".repeat(150);

function frame(recent: string[], running: number) {
  const tasks = [task(1, "@plan", "succeeded"), ...Array.from({ length: running }, (_, i) => task(i + 2, `build-${i}-${"k".repeat(30)}`, "running", `host.example:12345:d${i + 1}-${"y".repeat(40)}`))];
  return progressLines(runProgress(run(), tasks, recent, now));
}

describe("the live view", () => {
  for (const columns of [80, 160]) {
    test(`at ${columns} columns no line is wider than the terminal, and each redraw replaces the last frame exactly`, () => {
      const terminal = new VirtualTerminal(columns, 24);
      terminal.write("before the live view\n");
      const block = new LiveBlock((text) => terminal.write(text), () => ({ columns, rows: 24 }), true);
      const frames = [
        frame([`gate g1 (review): ${LONG}`, `${"z".repeat(columns + 10)}`, "short"], 3),
        frame([`FAILED pages (error): ${"e".repeat(columns - 5)}`], 1),
        frame([`started ${"s".repeat(columns + 19)}`, `succeeded ${LONG}`, "x", "y", "z", "w"], 5),
      ];
      for (const lines of frames) {
        block.draw(lines);
        const expected = lines.map((line) => Bun.stripANSI(renderLine(line, columns - 1, false)));
        expect(terminal.text()).toEqual(["before the live view", ...expected]);
        for (const line of terminal.text()) expect(Bun.stringWidth(line)).toBeLessThan(columns);
      }
      block.clear();
      expect(terminal.text()).toEqual(["before the live view"]);
    });
  }

  test("a frame taller than the screen is cut to it, so the next redraw can still reach its first line", () => {
    const terminal = new VirtualTerminal(80, 6);
    const block = new LiveBlock((text) => terminal.write(text), () => ({ columns: 80, rows: 6 }), false);
    block.draw(frame([], 10));
    block.draw(frame(["done"], 0));
    expect(terminal.text()).toEqual(frame(["done"], 0).map((line) => renderLine(line, 79, false)));
  });

  test("clipping counts wide characters as two columns and marks a cut with …", () => {
    expect(clip("héllo", 10)).toBe("héllo");
    expect(clip("日本語のテキスト", 7)).toBe("日本語…");
    expect(Bun.stringWidth(clip("日本語のテキスト", 7))).toBeLessThanOrEqual(7);
    expect(clip("a\tb\nc", 10)).toBe("a b c");
    expect(renderLine([{ text: "run ", style: "bold" }, { text: "x".repeat(20), style: "red" }], 10, true)).toBe("\x1b[1mrun \x1b[22m\x1b[31mxxxxx…\x1b[39m");
  });
});

describe("the run's view model", () => {
  test("counts tasks by state in a fixed order, leaving out the planning task", () => {
    const tasks = [task(1, "@plan", "succeeded"), task(2, "a", "failed"), task(3, "b", "succeeded"), task(4, "c", "running", "d1"), task(5, "d", "succeeded")];
    expect(countByState(tasks)).toEqual([
      { state: "succeeded", count: 2 },
      { state: "running", count: 1 },
      { state: "failed", count: 1 },
    ]);
  });

  test("running tasks carry their drone and how long their attempt has run", () => {
    const model = runProgress(run(), [task(2, "a", "running", "d1", now - 1_500), task(3, "b", "waiting")], [], now);
    expect(model).toMatchObject({ runId: "r0abc", state: "running", elapsedMs: 65_000, running: [{ key: "a", drone: "d1", elapsedMs: 1_500 }], waiting: ["b"] });
  });

  test("events are described in words with their task's key", () => {
    const base = { id: 1, at: now, actor: "d1", runId: "r0abc", taskId: 2, attemptId: 7 };
    const keys = new Map([[2, "pages"]]);
    const events: EventRecord[] = [
      { ...base, type: "task.started", data: { attempt: 2 } },
      { ...base, type: "task.failed", data: { reason: "error", error: "exit 1\nmore", skipped: ["links"] } },
      { ...base, type: "gate.rejected", actor: "ana", data: { gate: "g1", question: "ok?", reason: "too long", action: "fail" } },
    ];
    expect(events.map((event) => describeEvent(event, keys))).toEqual([
      "started pages (d1, attempt 2)",
      "FAILED pages (error): exit 1; skipped links",
      "gate g1 rejected by ana: too long",
    ]);
  });
});
