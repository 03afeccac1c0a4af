/** The panes of one run (its tasks by wave), one task (attempts and journal; output) and one gate (the whole review). */
import type { RunBudget } from "../../core/workplan.ts";
import type { AttemptRecord, GateRecord, LogRecord, RunSummary, StepRecord, TaskRecord, TaskSummary } from "../../store/types.ts";
import { budgetLines, taskBoard, taskRow, type Board, type BudgetLine } from "../../view/board.ts";
import { gateReviewLines, gateSubject } from "../../view/gate.ts";
import { countByState, tallyOf } from "../../view/run.ts";
import { attemptRows, logLines, oneLine, stepRows } from "../../view/task.ts";
import { STATE_STYLE, type Line } from "../../view/text.ts";
import { ago, clockTime, duration, filterItems, stateCell, tallyCell, type ListPane, type TextPane } from "../pane.ts";
import { matchesFilter, type Item } from "../state.ts";

function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

function budgetText(line: BudgetLine): string {
  const used = line.used === null ? "?" : formatCount(line.used);
  return line.limit === null ? `${line.name} ${used}` : `${line.name} ${used}/${formatCount(line.limit)}`;
}

/** The lines at the top of every pane of a run: state and progress, goal, budget. */
export function runHead(summary: RunSummary, budget: RunBudget | null, usage: { turns: number; inputTokens: number; outputTokens: number }, now: number): Line[] {
  const { run, tasks } = summary;
  const elapsed = (run.finishedAt ?? now) - run.createdAt;
  const head: Line[] = [
    [...stateCell(run.state), { text: "  " }, ...tallyCell(tallyOf(countByState(tasks))), { text: `  ${duration(elapsed)}  ` }, { text: run.goal.split("\n")[0]!, style: "bold" }],
  ];
  const lines = budgetLines(budget, usage);
  if (lines.length > 0) {
    const over = lines.some((l) => l.limit !== null && l.used !== null && l.used >= l.limit);
    head.push([{ text: "budget  ", style: "dim" }, { text: lines.map(budgetText).join(" · "), style: over ? "red" : undefined }]);
  }
  return head;
}

interface Laid {
  board: Board;
  /** Per filter: the tasks it keeps, in board order, and their items. */
  filtered: Map<string, { tasks: TaskSummary[]; items: Item[] }>;
}

/**
 * Boards by the summary they were made from: a summary is read once per
 * change, and screens are built for every key and every second, so a board
 * of ten thousand tasks is grouped once per read, not once per frame.
 */
const boards = new WeakMap<RunSummary, Laid>();

function laidOut(summary: RunSummary, waves: ReadonlyMap<string, number>, filter: string): { board: Board; tasks: TaskSummary[]; items: Item[] } {
  let laid = boards.get(summary);
  if (!laid) {
    laid = { board: taskBoard(summary.tasks, summary.gates, waves), filtered: new Map() };
    boards.set(summary, laid);
  }
  let kept = laid.filtered.get(filter);
  if (!kept) {
    const { gateOf } = laid.board;
    const tasks = filterItems(laid.board.order, filter, (t) => `${t.key} ${t.state} ${t.title} ${t.leaseOwner ?? ""} ${t.workflow}${gateOf.has(t.id) ? " gate" : ""}`, matchesFilter);
    const runId = summary.run.id;
    const items = tasks.map((t): Item => ({ id: String(t.id), open: { kind: "task", runId, taskId: t.id, pane: "journal" }, gateId: gateOf.get(t.id) }));
    kept = { tasks, items };
    laid.filtered.set(filter, kept);
  }
  return { board: laid.board, ...kept };
}

export function tasksPane(summary: RunSummary, waves: ReadonlyMap<string, number>, head: Line[], filter: string, now: number): ListPane {
  const { board, tasks, items } = laidOut(summary, waves, filter);
  const line: Line = [{ text: "waves  ", style: "dim" }];
  for (const wave of board.waves) {
    if (wave.number === 0) continue;
    const done = wave.succeeded === wave.tasks;
    const busy = wave.counts.find((c) => c.state === "running" || c.state === "waiting" || c.state === "failed");
    const style = done ? "green" : busy ? STATE_STYLE[busy.state] : undefined;
    line.push({ text: `${wave.number}:${done ? "✓" : `${wave.succeeded}/${wave.tasks}`}`, style }, { text: " " });
  }
  return {
    kind: "list",
    title: `Run ${summary.run.id}`,
    runId: summary.run.id,
    head: [...head, line],
    columns: [
      { header: "W", align: "right" },
      { header: "TASK", max: 24 },
      { header: "STATE" },
      { header: "TRY", align: "right" },
      { header: "DRONE", max: 22 },
      { header: "ELAPSED", align: "right" },
      { header: "LEASE", align: "right" },
      { header: "TITLE", flex: true },
    ],
    items,
    cells: (i) => {
      const task = tasks[i]!;
      const t = taskRow(task, board.waveOf.get(task.id) ?? 0, board.gateOf.get(task.id) ?? null, now);
      const lease: Line =
        t.leaseLeftMs === null ? [{ text: "-" }] : t.leaseLeftMs <= 0 ? [{ text: `-${duration(-t.leaseLeftMs)}`, style: "red" }] : [{ text: duration(t.leaseLeftMs) }];
      const title: Line = t.gateId ? [{ text: "⚑ ", style: "yellow" }, { text: t.title }] : t.error && t.state === "failed" ? [{ text: t.error, style: "red" }] : [{ text: t.title }];
      return [t.wave === 0 ? "P" : String(t.wave), [{ text: t.key, style: "bold" }], stateCell(t.state), `${t.attempt}/${t.maxAttempts}`, t.drone ?? "-", duration(t.elapsedMs), lease, title];
    },
    empty: filter ? "no task matches the filter" : "the run has no tasks yet (the Architect is planning it)",
    filterable: true,
    hint: "Enter opens the task · a/r decide its gate (⚑) · c cancels the run",
  };
}

export function taskJournalPane(task: TaskRecord, attempts: readonly AttemptRecord[], steps: readonly StepRecord[], gates: readonly GateRecord[], now: number): TextPane {
  const pending = gates.find((gate) => gate.state === "pending");
  const lines: Line[] = [
    [{ text: `${task.runId}/`, style: "dim" }, { text: task.key, style: "bold" }, { text: "  " }, ...stateCell(task.state), { text: `  [${task.workflow}]  ${task.title}` }],
  ];
  if (task.after.length > 0) lines.push([{ text: "after  ", style: "dim" }, { text: task.after.join(", ") }]);
  if (task.leaseOwner && task.state === "running") lines.push([{ text: "drone  ", style: "dim" }, { text: `${task.leaseOwner}, lease ${task.leaseExpiresAt === null ? "-" : duration(task.leaseExpiresAt - now)} left` }]);
  if (pending) lines.push([{ text: "⚑ waits at gate ", style: "yellow" }, { text: `${pending.id}: ${pending.question}` }]);
  lines.push([{ text: "input  ", style: "dim" }, { text: oneLine(task.input) }]);
  if (task.state === "succeeded") lines.push([{ text: "output ", style: "dim" }, { text: oneLine(task.output) }]);
  if (task.error) lines.push([{ text: "error  ", style: "red" }, { text: `${task.error.message}${task.failReason ? ` (${task.failReason})` : ""}` }]);
  for (const feedback of task.feedback) lines.push([{ text: "feedback  ", style: "yellow" }, { text: `${feedback.by}: ${feedback.reason}` }]);
  lines.push([], [{ text: `attempts (${attempts.length})`, style: "bold" }]);
  for (const a of attemptRows(attempts, now)) {
    const beat = a.heartbeatAgoMs === null ? "" : `, heartbeat ${ago(a.heartbeatAgoMs)}`;
    lines.push([{ text: `  #${a.number} ` }, ...stateCell(a.state), { text: `  ${a.worker}  ${clockTime(a.startedAt)}  ${duration(a.tookMs)}${beat}` }]);
    if (a.error) lines.push([{ text: `     ${a.error}`, style: "red" }]);
  }
  lines.push([], [{ text: `journal (${steps.length} step${steps.length === 1 ? "" : "s"})`, style: "bold" }]);
  const attemptNumber = new Map(attempts.map((a) => [a.id, a.number]));
  for (const s of stepRows(steps)) {
    const status: Line = s.status === "failed" ? [{ text: "failed", style: "red" }] : s.status === "waiting" ? [{ text: "waiting", style: "yellow" }] : [{ text: "completed", style: "green" }];
    lines.push([{ text: `  ${String(s.seq).padStart(3)} ` }, { text: s.key, style: "bold" }, { text: ` [${s.kind}] ` }, ...status, { text: `  ${duration(s.tookMs)}  attempt #${attemptNumber.get(s.attemptId) ?? "?"}${s.tokens ? `  ${s.tokens}` : ""}` }]);
    lines.push([{ text: "      in  ", style: "dim" }, { text: s.input }]);
    lines.push([{ text: s.status === "failed" ? "      err " : "      out ", style: s.status === "failed" ? "red" : "dim" }, { text: s.result }]);
  }
  return {
    kind: "text",
    title: `Task ${task.key}`,
    gateId: pending?.id,
    lines,
    empty: "",
    filterable: false,
    hint: pending ? "a/r decide its gate · Tab shows its output" : "Tab shows its output (following live)",
  };
}

export function taskLogsPane(task: TaskRecord, logs: readonly LogRecord[], gates: readonly GateRecord[]): TextPane {
  const lines: Line[] = logLines(logs).map((line) => [line.stream === "stderr" ? { text: line.text, style: "red" } : line.stream === "info" ? { text: line.text, style: "dim" } : { text: line.text }]);
  return {
    kind: "text",
    title: `Output of ${task.key}`,
    gateId: gates.find((gate) => gate.state === "pending")?.id,
    lines,
    empty: "no output yet",
    filterable: false,
    hint: "follows new output at the end · ↑ to read back",
  };
}

export function gatePane(gate: GateRecord, now: number): TextPane {
  const decided =
    gate.state === "pending"
      ? [{ text: "pending", style: "yellow" as const }, { text: `, waiting ${duration(now - gate.createdAt)}${gate.overdueAt ? " (OVERDUE)" : ""}` }]
      : [...stateCell(gate.state), { text: ` by ${gate.decidedBy ?? "-"}${gate.reason ? `: ${gate.reason}` : ""}` }];
  const lines: Line[] = [
    [{ text: gate.id, style: "yellow" }, { text: `  ${gateSubject(gate)}  ` }, ...decided],
    [{ text: `asked by ${gate.askedBy ?? "-"}${gate.timeoutAt ? ` · times out at ${clockTime(gate.timeoutAt)} (then ${gate.onTimeout})` : ""}`, style: "dim" }],
    [],
    ...gateReviewLines(gate),
  ];
  return {
    kind: "text",
    title: `Gate ${gate.id}`,
    gateId: gate.state === "pending" ? gate.id : undefined,
    lines,
    empty: "",
    filterable: false,
    hint: gate.state === "pending" ? "a approves · r rejects with a reason · ↑↓ scroll" : "this gate was decided; Esc goes back",
  };
}
