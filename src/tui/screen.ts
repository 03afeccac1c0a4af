/**
 * The whole screen as plain data, from what was read and the UI state, for
 * a terminal of a given size: a header, the tabs, the body's rows (the
 * window of the list or text that fits, each cut to the width), a status
 * line, the keys, and a dialog when one is open. The renderer only draws it;
 * the keys act on its `view`.
 *
 *   row 0        header: where you are, what waits for a person, drones, clock
 *   row 1        tabs of the route
 *   rows 2..h-3  a box: its title, then the body (h - 6 rows inside the border)
 *   row h-2      status: the message, the filter being typed, or what keys do here
 *   row h-1      keys
 */
import { clipLine, type Line } from "../view/text.ts";
import type { ScreenData } from "./data.ts";
import { padLine, spread, table, wrapLines } from "./layout.ts";
import type { PaneContent } from "./pane.ts";
import { eventsPane, dronesPane, gatesPane, runsPane } from "./panes/lists.ts";
import { gatePane, runHead, taskJournalPane, taskLogsPane, tasksPane } from "./panes/detail.ts";
import { currentRoute, paneOf, panesOf, paneState, resolveIndex, windowTop, type Route, type UiState, type ViewInfo } from "./state.ts";
import { dialog, type Dialog } from "./dialogs.ts";

export interface Size {
  width: number;
  height: number;
}

/** The smallest terminal the layout is made for; smaller ones still draw, cut. */
export const MIN_SIZE: Size = { width: 80, height: 24 };

export interface Row {
  line: Line;
  selected?: boolean;
}

export interface Screen {
  header: Line;
  tabs: Line;
  title: string;
  body: Row[];
  status: Line;
  keys: Line;
  dialog: Dialog | null;
  view: ViewInfo;
}

const NAV_KEYS = [["↑↓", "move"], ["⏎", "open"], ["esc", "back"], ["tab", "pane"]] as const;
const ACTION_KEYS = [["a", "approve"], ["r", "reject"], ["c", "cancel"], ["/", "filter"], ["?", "keys"], ["q", "quit"]] as const;

/** Each key in bold, followed by what it does. */
function keyLine(keys: readonly (readonly [string, string])[]): Line {
  return keys.flatMap(([key, what], i) => [{ text: key, style: "bold" as const }, { text: i === keys.length - 1 ? ` ${what}` : ` ${what}  ` }]);
}

const KEYS: Line = keyLine([...NAV_KEYS, ...ACTION_KEYS]);
/** Under 94 columns the keys are named without what they do, but for the decisions. */
const SHORT_KEYS: Line = [{ text: NAV_KEYS.map(([key]) => key).join(" "), style: "bold" }, { text: "  " }, ...keyLine(ACTION_KEYS)];

const PANE_NAMES: Record<string, string> = { runs: "Runs", gates: "Gates", drones: "Drones", events: "Events", tasks: "Tasks", journal: "Journal", logs: "Output", gate: "Gate" };

/** Whether two routes show the same subject (a route's data serves all its panes). */
function sameSubject(a: Route, b: Route): boolean {
  switch (a.kind) {
    case "home":
      return b.kind === "home";
    case "run":
      return b.kind === "run" && b.runId === a.runId;
    case "task":
      return b.kind === "task" && b.taskId === a.taskId;
    case "gate":
      return b.kind === "gate" && b.gateId === a.gateId;
  }
}

/** The pane's content for the data read, or null while the route's data is still to come. */
function paneContent(data: ScreenData | null, route: Route, filter: string, now: number): PaneContent | null {
  if (!data || !sameSubject(data.route, route)) return null;
  const d = data.data;
  const pending = data.overview.pendingGates;
  if (d.kind === "missing") return { kind: "text", title: "Not found", lines: [[{ text: d.message, style: "red" }], [], [{ text: "Esc goes back" }]], empty: "", filterable: false };
  if (route.kind === "home" && d.kind === "home") {
    switch (route.pane) {
      case "runs":
        return runsPane(d.runs, d.counts, pending, filter, now);
      case "gates":
        return gatesPane(pending, filter, now, "Gates waiting for a person");
      case "drones":
        return dronesPane(data.overview.drones, filter, now);
      case "events":
        return eventsPane(d.events, filter, { showRun: true, title: "Event log (following)" });
    }
  }
  if (route.kind === "run" && d.kind === "run") {
    const head = runHead(d.summary, d.budget, d.usage, now);
    switch (route.pane) {
      case "tasks":
        return tasksPane(d.summary, d.waves, head, filter, now);
      case "gates":
        return { ...gatesPane(d.summary.gates, filter, now, `Gates of ${d.summary.run.id}`), head, runId: d.summary.run.id };
      case "events":
        return { ...eventsPane(d.events, filter, { showRun: false, title: `Events of ${d.summary.run.id} (following)` }), head, runId: d.summary.run.id };
    }
  }
  if (route.kind === "task" && d.kind === "task") {
    return route.pane === "journal" ? taskJournalPane(d.task, d.attempts, d.steps, d.gates, now) : taskLogsPane(d.task, d.logs, d.gates);
  }
  if (route.kind === "gate" && d.kind === "gate") return gatePane(d.gate, now);
  return null;
}

function breadcrumb(ui: UiState, data: ScreenData | null): string {
  const parts = ui.stack.map((route) => {
    switch (route.kind) {
      case "home":
        return "farcaster";
      case "run":
        return route.runId;
      case "task":
        return data?.data.kind === "task" && data.data.task.id === route.taskId ? data.data.task.key : `task #${route.taskId}`;
      case "gate":
        return route.gateId;
    }
  });
  return parts.join(" › ");
}

function header(ui: UiState, data: ScreenData | null, width: number, now: number): Line {
  const left: Line = [{ text: breadcrumb(ui, data), style: "bold" }];
  const right: Line = [];
  if (data) {
    const gates = data.overview.pendingGates.length;
    right.push(gates > 0 ? { text: `⚑ ${gates} gate${gates === 1 ? "" : "s"} waiting`, style: "yellow" } : { text: "no gate waiting", style: "dim" });
    const drones = data.overview.drones;
    const warn = drones.some((d) => d.leases.some((l) => l.leaseExpiresAt <= now));
    right.push({ text: " · " }, { text: `${drones.length} drone${drones.length === 1 ? "" : "s"}${warn ? " ✗" : ""}`, style: warn ? "red" : undefined });
  }
  const clock = new Date(now);
  right.push({ text: `  ${[clock.getHours(), clock.getMinutes(), clock.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":")}`, style: "dim" });
  return spread(left, right, width);
}

function tabs(route: Route, content: PaneContent | null, width: number): Line {
  const current = paneOf(route);
  const line: Line = [];
  for (const pane of panesOf(route)) {
    const name = PANE_NAMES[pane] ?? pane;
    const count = pane === current && content?.kind === "list" ? ` (${content.items.length})` : "";
    line.push(pane === current ? { text: ` ${name}${count} `, style: "bold" } : { text: ` ${name} `, style: "dim" }, { text: " " });
  }
  return clipLine(line, width);
}

/** Fits a pane into `height` rows of `width` columns; returns the rows and what the keys act on. */
function fitPane(content: PaneContent, ui: UiState, route: Route, width: number, height: number): { rows: Row[]; view: ViewInfo } {
  const pane = paneState(ui, route);
  const rows: Row[] = (content.head ?? []).flatMap((line) => wrapLines([line], width).slice(0, 2)).map((line) => ({ line }));
  const base = { gateId: content.gateId, runId: content.runId, filterable: content.filterable };
  if (content.kind === "text") {
    const lines = wrapLines(content.lines, width);
    const size = Math.max(1, height - rows.length);
    const most = Math.max(0, lines.length - size);
    const top = pane.top === null ? most : Math.min(pane.top, most);
    if (lines.length === 0) rows.push({ line: [{ text: content.empty, style: "dim" }] });
    for (const line of lines.slice(top, top + size)) rows.push({ line });
    return { rows, view: { kind: "text", items: [], index: 0, top, pageSize: size, lineCount: lines.length, ...base } };
  }
  const count = content.items.length;
  // Under a list of gates, the selected gate's review takes what the list leaves, when there is room.
  const previewRoom = content.preview && height - rows.length >= 12 ? Math.floor((height - rows.length) / 2) : 0;
  const size = Math.max(1, height - rows.length - 1 - (previewRoom > 0 ? previewRoom + 1 : 0));
  const followEnd = content.follow === true && pane.selected === null;
  const index = followEnd ? Math.max(0, count - 1) : resolveIndex(pane, content.items);
  const top = windowTop(pane.top ?? index, index, size, count);
  const visible = Array.from({ length: Math.min(size, count - top) }, (_, i) => content.cells(top + i));
  const laid = table(content.columns, visible, width);
  rows.push({ line: laid.header });
  if (count === 0) rows.push({ line: [{ text: content.empty, style: "dim" }] });
  laid.lines.forEach((line, i) => rows.push({ line: padLine(line, width), selected: top + i === index }));
  if (previewRoom > 0 && count > 0) {
    while (rows.length < height - previewRoom - 1) rows.push({ line: [] });
    rows.push({ line: [{ text: "─".repeat(width), style: "dim" }] });
    for (const line of wrapLines(content.preview!(index), width).slice(0, previewRoom)) rows.push({ line });
  }
  return { rows, view: { kind: "list", items: content.items, index, top, pageSize: size, lineCount: count, follow: content.follow, ...base } };
}

function statusLine(ui: UiState, content: PaneContent | null, width: number): Line {
  const filter = paneState(ui).filter;
  if (ui.mode.kind === "filter") return clipLine([{ text: "filter: ", style: "bold" }, { text: filter }, { text: "▌" }, { text: "   Enter keeps it · Esc clears it", style: "dim" }], width);
  if (ui.message) return clipLine([{ text: ui.message.text, style: ui.message.tone === "error" ? "red" : "green" }], width);
  const line: Line = [];
  if (filter) line.push({ text: `filter "${filter}" (Esc clears)  `, style: "yellow" });
  if (content?.hint) line.push({ text: content.hint, style: "dim" });
  return clipLine(line, width);
}

export function buildScreen(data: ScreenData | null, ui: UiState, size: Size, now: number): Screen {
  const width = Math.max(10, size.width);
  const inner = width - 2;
  const bodyHeight = Math.max(1, size.height - 6);
  const route = currentRoute(ui);
  const content = paneContent(data, route, paneState(ui).filter, now);
  let body: Row[];
  let view: ViewInfo;
  if (content) ({ rows: body, view } = fitPane(content, ui, route, inner, bodyHeight));
  else {
    body = [{ line: [{ text: "reading…", style: "dim" }] }];
    view = { kind: "text", items: [], index: 0, top: 0, pageSize: bodyHeight, lineCount: 0, filterable: false };
  }
  return {
    header: header(ui, data, width, now),
    tabs: tabs(route, content, width),
    title: content?.title ?? "",
    body: body.slice(0, bodyHeight).map((row) => ({ ...row, line: clipLine(row.line, inner) })),
    status: statusLine(ui, content, width),
    keys: clipLine(width >= 94 ? KEYS : SHORT_KEYS, width),
    dialog: dialog(ui, data, Math.min(width - 4, 76)),
    view,
  };
}
