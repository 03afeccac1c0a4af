/** The dashboard's view models: pure functions from store records to rows of plain data, and the screen laid out from them. */
import { describe, expect, test } from "bun:test";
import type { DroneRecord, GateRecord, RunRecord, StepRecord, TaskSummary } from "../src/store/types.ts";
import { budgetLines, taskBoard, taskRow, wavesOf } from "../src/view/board.ts";
import { droneRows, leaseWarning, parseDroneId } from "../src/view/drones.ts";
import type { Workplan } from "../src/core/workplan.ts";
import { gateReviewLines } from "../src/view/gate.ts";
import { isPlanReview, planReview, planReviewLines } from "../src/view/planReview.ts";
import { stateCounts, tallyOf } from "../src/view/run.ts";
import { runRows } from "../src/view/runs.ts";
import { logLines, stepRows } from "../src/view/task.ts";
import { clipLine, lineText, wrapLine } from "../src/view/text.ts";
import { lineWidth, spread, table } from "../src/tui/layout.ts";
import { buildScreen } from "../src/tui/screen.ts";
import { initialState, type UiState } from "../src/tui/state.ts";
import type { ScreenData } from "../src/tui/data.ts";

const now = Date.UTC(2026, 11, 1, 12);

function run(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return { id, goal: `goal of ${id}\nmore`, state: "running", source: null, cwd: null, idempotencyKey: null, requestHash: null, tasksTotal: 3, tasksOpen: 2, tasksFailed: 0, sourceHash: null, createdAt: now - 65_000, updatedAt: now, finishedAt: null, ...overrides };
}

function summary(id: number, key: string, state: TaskSummary["state"], fields: Partial<TaskSummary> = {}): TaskSummary {
  return {
    id, runId: "r1", key, title: `task ${key}`, workflow: "shell", state, attempts: 1, maxAttempts: 2, attemptId: null, leaseOwner: null, leaseExpiresAt: null,
    failReason: null, error: null, updatedAt: now - 3_000, startedAt: null, finishedAt: null, after: [], attemptStartedAt: null,
    ...fields,
  };
}

function gate(id: string, fields: Partial<GateRecord> = {}): GateRecord {
  return {
    id, runId: "r1", taskId: 3, taskKey: "review", stepKey: "review", question: "Ship it?", evidence: null, subjectHash: null, askedBy: "w", state: "pending",
    decidedBy: null, decidedAt: null, reason: null, action: null, timeoutAt: null, onTimeout: "fail", overdueAt: null, scheduleId: null, scheduleName: null, createdAt: now - 90_000, ...fields,
  };
}

describe("runs and progress", () => {
  test("a tally has the six counts people ask for and the total of every state", () => {
    expect(tallyOf({ succeeded: 3, running: 1, ready: 2, waiting: 1, failed: 1, skipped: 4, blocked: 5, cancelled: 2 })).toEqual({ succeeded: 3, running: 1, ready: 2, waiting: 1, failed: 1, skipped: 4, total: 19 });
    expect(tallyOf({})).toEqual({ succeeded: 0, running: 0, ready: 0, waiting: 0, failed: 0, skipped: 0, total: 0 });
    expect(stateCounts({ failed: 1, succeeded: 2, ready: 0 })).toEqual([{ state: "succeeded", count: 2 }, { state: "failed", count: 1 }]);
  });

  test("run rows carry progress, age, the goal's first line, and how many gates await a person", () => {
    const rows = runRows([run("r1"), run("r2", { state: "succeeded", createdAt: now - 5_000 })], { r1: { succeeded: 1, waiting: 1 }, r2: { succeeded: 2 } }, [gate("g1"), gate("g2"), gate("g3", { state: "approved" })], now);
    expect(rows).toEqual([
      { id: "r1", state: "running", tally: tallyOf({ succeeded: 1, waiting: 1 }), ageMs: 65_000, goal: "goal of r1", gatesPending: 2 },
      { id: "r2", state: "succeeded", tally: tallyOf({ succeeded: 2 }), ageMs: 5_000, goal: "goal of r2", gatesPending: 0 },
    ]);
  });
});

describe("a run's tasks by wave", () => {
  test("tasks are grouped by the DAG's layers, the planning task first, each with attempt, drone, elapsed time and lease left", () => {
    const tasks = [
      summary(1, "@plan", "succeeded", { workflow: "architect", startedAt: now - 9_000, finishedAt: now - 8_000 }),
      summary(2, "build", "succeeded", { startedAt: now - 7_000, finishedAt: now - 4_000 }),
      summary(3, "review", "waiting", { after: ["build"], updatedAt: now - 2_500 }),
      summary(4, "test", "running", { after: ["build"], leaseOwner: "h:1:d1", leaseExpiresAt: now + 20_000, attemptStartedAt: now - 1_200, startedAt: now - 30_000 }),
      summary(5, "ship", "blocked", { after: ["review", "test"], attempts: 0 }),
      summary(6, "lint", "failed", { error: { message: "3 warnings\nmore" }, startedAt: now - 1_000, finishedAt: now - 500 }),
    ];
    const board = taskBoard(tasks, [gate("g1", { taskId: 3 }), gate("g0", { taskId: 2, state: "approved" })]);
    expect(board.waves.map((w) => [w.number, w.tasks, w.succeeded])).toEqual([[0, 1, 0], [1, 2, 1], [2, 2, 0], [3, 1, 0]]);
    expect(board.order.map((t) => t.key)).toEqual(["@plan", "build", "lint", "review", "test", "ship"]);
    const row = (key: string) => {
      const task = board.order.find((t) => t.key === key)!;
      return taskRow(task, board.waveOf.get(task.id)!, board.gateOf.get(task.id) ?? null, now);
    };
    expect(row("test")).toMatchObject({ state: "running", wave: 2, attempt: 1, maxAttempts: 2, drone: "h:1:d1", elapsedMs: 1_200, leaseLeftMs: 20_000, gateId: null });
    expect(row("review")).toMatchObject({ elapsedMs: 2_500, gateId: "g1", drone: null, leaseLeftMs: null });
    expect(row("build")).toMatchObject({ elapsedMs: 3_000, gateId: null });
    expect(row("ship")).toMatchObject({ elapsedMs: null, attempt: 0 });
    expect(row("lint").error).toBe("3 warnings");
    expect(board.waves[2]!.counts).toEqual([{ state: "running", count: 1 }, { state: "waiting", count: 1 }]);
  });

  test("waves depend on the DAG only, so a board can be given waves computed before", () => {
    const tasks = [summary(1, "a", "ready"), summary(2, "b", "blocked", { after: ["a"] }), summary(3, "orphan", "blocked", { after: ["gone"] })];
    const waves = wavesOf(tasks);
    expect([...waves]).toEqual([["a", 1], ["b", 2]]);
    const board = taskBoard(tasks, [], waves);
    // A task outside every wave (its dependency is not in the run) goes last rather than nowhere.
    expect(board.order.map((t) => [t.key, board.waveOf.get(t.id)])).toEqual([["a", 1], ["b", 2], ["orphan", 3]]);
  });

  test("a lease past its expiry shows a negative time left", () => {
    const task = summary(1, "a", "running", { leaseOwner: "w", leaseExpiresAt: now - 1_500 });
    expect(taskRow(task, 1, null, now).leaseLeftMs).toBe(-1_500);
  });

  test("the budget shows each limit of the envelope against what was used, and nothing for a run without either", () => {
    expect(budgetLines({ turns: 50, inputTokens: 10_000, costUsd: 2 }, { turns: 12, inputTokens: 3_400, outputTokens: 800 })).toEqual([
      { name: "turns", used: 12, limit: 50 },
      { name: "input tokens", used: 3_400, limit: 10_000 },
      { name: "output tokens", used: 800, limit: null },
      { name: "cost (USD)", used: null, limit: 2 },
    ]);
    expect(budgetLines(null, { turns: 0, inputTokens: 0, outputTokens: 0 })).toEqual([]);
    expect(budgetLines(null, { turns: 3, inputTokens: 10, outputTokens: 5 }).map((l) => l.limit)).toEqual([null, null, null]);
  });
});

describe("drones", () => {
  const drone = (id: string, leases: DroneRecord["leases"], lastHeartbeatAt = now - 2_000): DroneRecord => ({ id, lastHeartbeatAt, attempts: 3, leases });
  const lease = (key: string, expiresIn: number, beatAgo: number) => ({ taskId: 1, runId: "r1", key, attemptId: 9, leaseExpiresAt: now + expiresIn, startedAt: now - 60_000, heartbeatAt: now - beatAgo });

  test("host and pid come from the default id; another id has neither", () => {
    expect(parseDroneId("build-1:4242:d3")).toEqual({ host: "build-1", pid: "4242" });
    expect(parseDroneId("host:99:ab12")).toEqual({ host: "host", pid: "99" });
    expect(parseDroneId("my-drone")).toEqual({ host: "", pid: "" });
    expect(parseDroneId("a:b:c")).toEqual({ host: "", pid: "" });
  });

  test("a lease with less than half of its length left is about to expire (a heartbeat is overdue); past its expiry it has expired", () => {
    expect(leaseWarning({ leaseExpiresAt: now + 25_000, heartbeatAt: now - 5_000 }, now)).toBeNull();
    expect(leaseWarning({ leaseExpiresAt: now + 10_000, heartbeatAt: now - 20_000 }, now)).toBe("expiring");
    expect(leaseWarning({ leaseExpiresAt: now, heartbeatAt: now - 30_000 }, now)).toBe("expired");
  });

  test("drone rows count what each holds and carry the worst warning of its leases", () => {
    const rows = droneRows([drone("h:1:d1", [lease("a", 25_000, 5_000), lease("b", -3_000, 33_000)]), drone("h:2:d1", [lease("c", 10_000, 20_000)]), drone("idle", [], now - 60_000)], now);
    expect(rows.map((r) => [r.id, r.host, r.pid, r.held, r.warning, r.heartbeatAgoMs])).toEqual([
      ["h:1:d1", "h", "1", 2, "expired", 2_000],
      ["h:2:d1", "h", "2", 1, "expiring", 2_000],
      ["idle", "", "", 0, null, 60_000],
    ]);
    expect(rows[0]!.leases.map((l) => [l.key, l.leftMs, l.warning])).toEqual([["a", 25_000, null], ["b", -3_000, "expired"]]);
  });
});

describe("a task in detail", () => {
  test("journal rows give each step's input, its output or error, status, attempt and timing", () => {
    const step = (seq: number, fields: Partial<StepRecord>): StepRecord => ({ taskId: 1, key: `s${seq}`, seq, kind: "step", attemptId: 7, status: "completed", input: { n: seq }, output: null, error: null, startedAt: 100, endedAt: 350, usage: null, ...fields });
    expect(stepRows([step(1, { output: { ok: true }, usage: { inputTokens: 10, outputTokens: 4 } }), step(2, { status: "failed", error: { message: "boom" } }), step(3, { status: "waiting", endedAt: null, output: { gateId: "g" } })])).toEqual([
      { seq: 1, key: "s1", kind: "step", status: "completed", attemptId: 7, tookMs: 250, input: '{"n":1}', result: '{"ok":true}', tokens: "10+4 tok" },
      { seq: 2, key: "s2", kind: "step", status: "failed", attemptId: 7, tookMs: 250, input: '{"n":2}', result: "boom", tokens: null },
      { seq: 3, key: "s3", kind: "step", status: "waiting", attemptId: 7, tookMs: null, input: '{"n":3}', result: '{"gateId":"g"}', tokens: null },
    ]);
  });

  test("output entries become lines: chunks of one stream join, newlines split, streams stay apart", () => {
    const entry = (id: number, stream: "stdout" | "stderr" | "info", text: string) => ({ id, taskId: 1, attemptId: 1, at: now, stream, text });
    expect(logLines([entry(1, "info", "$ make\n"), entry(2, "stdout", "buil"), entry(3, "stdout", "t 3\nnext\n"), entry(4, "stderr", "warn\n\n"), entry(5, "stdout", "tail")])).toEqual([
      { stream: "info", text: "$ make" },
      { stream: "stdout", text: "built 3" },
      { stream: "stdout", text: "next" },
      { stream: "stderr", text: "warn" },
      { stream: "stderr", text: "" },
      { stream: "stdout", text: "tail" },
    ]);
  });
});

describe("gate review", () => {
  const plan = {
    goal: "ship",
    budget: { costUsd: 2 },
    tasks: [
      { id: "build", title: "Build", workflow: "shell", input: { command: "make -j4 all && make install DESTDIR=/tmp/stage" }, after: [] },
      { id: "fix", title: "Fix", workflow: "agent", input: { instructions: "fix the tests\nthen run them", budget: { turns: 10 } }, after: ["build"], scope: { writes: ["src/**"], commands: ["npm test"] } },
    ],
  } as unknown as Workplan;
  const planGate = gate("gp", { taskKey: "@plan", question: "Approve the plan: 2 tasks in 2 waves?", evidence: planReview(plan, [["build"], ["fix"]], "model") });

  test("a plan gate's review shows every command whole, each agent's instructions and scope, the waves, the budget and the risks", () => {
    expect(isPlanReview(planGate.evidence)).toBe(true);
    expect(isPlanReview({ pages: 3 })).toBe(false);
    const text = gateReviewLines(planGate).map(lineText);
    expect(text[0]).toBe("Approve the plan: 2 tasks in 2 waves?");
    expect(text).toContain("    $ make -j4 all && make install DESTDIR=/tmp/stage");
    expect(text).toContain("    | fix the tests");
    expect(text).toContain("    | then run them");
    expect(text).toContain("    may write: src/**");
    expect(text).toContain("    may run: npm test");
    expect(text).toContain("fix: Fix  [agent]  after build");
    expect(text).toContain("wave 2: fix");
    expect(text).toContain('model budget: run {"costUsd":2}; tasks {"fix":{"turns":10}}');
    expect(text).toContain("look before you approve: 1 shell command written by a model; 1 agent task written by a model, each with the scope shown");
    expect(planReviewLines(planReview(plan, [["build"], ["fix"]], "goal file")).map(lineText).some((line) => line.startsWith("look before"))).toBe(false);
  });

  test("any other gate shows its question and its evidence as text", () => {
    const text = gateReviewLines(gate("g1", { evidence: { pages: 12 } })).map(lineText);
    expect(text).toEqual(["Ship it?", "", "evidence", "{", '  "pages": 12', "}"]);
    expect(gateReviewLines(gate("g2")).map(lineText)).toEqual(["Ship it?", "", "no evidence attached"]);
  });
});

describe("text layout", () => {
  test("clipping counts wide characters as two columns and marks a cut with …", () => {
    expect(lineText(clipLine([{ text: "abc" }, { text: "日本語", style: "bold" }, { text: "zz" }], 7))).toBe("abc日…");
    expect(lineText(clipLine([{ text: "abc" }], 3))).toBe("abc");
  });

  test("wrapping breaks a line into rows of the width and keeps each piece's style", () => {
    expect(wrapLine([{ text: "abcd" }, { text: "efg", style: "red" }], 3)).toEqual([[{ text: "abc" }], [{ text: "d" }, { text: "ef", style: "red" }], [{ text: "g", style: "red" }]]);
    expect(wrapLine([], 5)).toEqual([[]]);
  });

  test("a table pads columns to their widest cell, cuts at a column's max, and gives the flex column the rest", () => {
    const { header, lines } = table([{ header: "ID" }, { header: "N", align: "right" }, { header: "NAME", max: 5 }, { header: "NOTE", flex: true }], [["a", "1", "alphabet", "x"], ["bb", "22", "b", "a long note that is cut"]], 30);
    expect(lineText(header)).toBe("ID   N  NAME   NOTE           ");
    expect(lines.map(lineText)).toEqual(["a    1  alph…  x              ", "bb  22  b      a long note th…"]);
    expect([header, ...lines].every((line) => lineWidth(line) === 30)).toBe(true);
  });

  test("spread puts the right side flush with the end", () => {
    expect(lineText(spread([{ text: "left" }], [{ text: "right" }], 12))).toBe("left   right");
    expect(lineText(spread([{ text: "a long left side" }], [{ text: "right" }], 12))).toBe("a lon… right");
  });
});

describe("the screen", () => {
  const data = (fields: Partial<Extract<ScreenData["data"], { kind: "home" }>> = {}): ScreenData => ({
    route: { kind: "home", pane: "runs" },
    overview: { pendingGates: [gate("g1", { runId: "r5" })], drones: [] },
    data: { kind: "home", runs: Array.from({ length: 40 }, (_, i) => run(`r${i}`)), counts: {}, events: { events: [], taskKeys: {} }, ...fields },
    readAt: now,
  });

  for (const [width, height] of [[80, 24], [120, 40]] as const) {
    test(`at ${width}×${height} every row fits the width and the body fits the height`, () => {
      const screen = buildScreen(data(), initialState(), { width, height }, now);
      expect(screen.body.length).toBe(height - 6);
      for (const line of [screen.header, screen.tabs, screen.status, screen.keys, ...screen.body.map((r) => r.line)]) expect(lineWidth(line)).toBeLessThanOrEqual(width);
      expect(screen.body.filter((r) => r.selected).length).toBe(1);
      expect(screen.view).toMatchObject({ kind: "list", index: 0, top: 0, pageSize: height - 7, lineCount: 40 });
      expect(lineText(screen.header)).toContain("⚑ 1 gate waiting");
    });
  }

  test("the window follows the selection to the end of a long list", () => {
    const ui: UiState = { ...initialState(), panes: { "home/runs": { selected: "r39", index: 39, top: 0, filter: "" } } };
    const screen = buildScreen(data(), ui, { width: 80, height: 24 }, now);
    expect(screen.view.index).toBe(39);
    expect(screen.view.top).toBe(40 - screen.view.pageSize);
    expect(lineText(screen.body.find((r) => r.selected)!.line)).toContain("r39");
  });

  test("a filter keeps the rows whose text has every word, and the tab counts what is left", () => {
    const ui: UiState = { ...initialState(), panes: { "home/runs": { selected: null, index: 0, top: 0, filter: "r5" } } };
    const screen = buildScreen(data(), ui, { width: 80, height: 24 }, now);
    expect(screen.view.items.map((i) => i.id)).toEqual(["r5"]);
    expect(lineText(screen.tabs)).toContain("Runs (1)");
    expect(lineText(screen.status)).toContain('filter "r5"');
  });

  test("until the route's data is read the body says so", () => {
    const screen = buildScreen(null, initialState("r1"), { width: 80, height: 24 }, now);
    expect(lineText(screen.body[0]!.line)).toBe("reading…");
  });
});
