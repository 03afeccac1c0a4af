/**
 * The dashboard's state and its keys, as pure functions: a key and what the
 * screen shows (ViewInfo) in, the next state and at most one command out.
 * Commands (approve, reject, cancel, quit) are carried out by the app
 * through the decision service; nothing here reads or writes the store.
 *
 * Terminology
 *   route   what the screen shows: the home panes, a run, a task, a gate
 *   pane    one of a route's tabs (Tab switches); each keeps its own cursor and filter
 *   item    a row a person can select: it may open a route, name a gate or a run
 *   mode    browsing, or a dialog that takes the keys (filter, reject, cancel, help)
 */
import type { RejectAction } from "../core/states.ts";
import type { Key } from "./keys.ts";

export const HOME_PANES = ["runs", "gates", "drones", "events"] as const;
export const RUN_PANES = ["tasks", "gates", "events"] as const;
export const TASK_PANES = ["journal", "logs"] as const;
export type HomePane = (typeof HOME_PANES)[number];
export type RunPane = (typeof RUN_PANES)[number];
export type TaskPane = (typeof TASK_PANES)[number];

export type Route =
  | { kind: "home"; pane: HomePane }
  | { kind: "run"; runId: string; pane: RunPane }
  | { kind: "task"; runId: string; taskId: number; pane: TaskPane }
  | { kind: "gate"; gateId: string };

export function panesOf(route: Route): readonly string[] {
  switch (route.kind) {
    case "home":
      return HOME_PANES;
    case "run":
      return RUN_PANES;
    case "task":
      return TASK_PANES;
    case "gate":
      return ["gate"];
  }
}

export function paneOf(route: Route): string {
  return route.kind === "gate" ? "gate" : route.pane;
}

/** The key a pane's cursor and filter are kept under. */
export function paneKey(route: Route): string {
  switch (route.kind) {
    case "home":
      return `home/${route.pane}`;
    case "run":
      return `run:${route.runId}/${route.pane}`;
    case "task":
      return `task:${route.taskId}/${route.pane}`;
    case "gate":
      return `gate:${route.gateId}`;
  }
}

export interface PaneState {
  /** The selected item's id: the selection follows it when rows come and go. */
  selected: string | null;
  /** Where the selection was: used when its item is gone (a gate decided elsewhere). */
  index: number;
  /** The first row or line shown; null: the end (a log follows its tail). */
  top: number | null;
  filter: string;
}

export const NEW_PANE: PaneState = Object.freeze({ selected: null, index: 0, top: 0, filter: "" });

export type Mode =
  | { kind: "browse" }
  | { kind: "help" }
  | { kind: "filter" }
  | { kind: "reject"; gateId: string; reason: string; action: RejectAction; problem: string | null }
  | { kind: "cancel"; runId: string };

export interface Message {
  text: string;
  tone: "info" | "error";
}

export interface UiState {
  /** The routes opened, the current one last; Esc goes back one. */
  stack: Route[];
  panes: Record<string, PaneState>;
  mode: Mode;
  message: Message | null;
}

export type Command =
  | { kind: "approve"; gateId: string }
  | { kind: "reject"; gateId: string; reason: string; action: RejectAction }
  | { kind: "cancel"; runId: string }
  | { kind: "quit" };

/** A selectable row. */
export interface Item {
  id: string;
  open?: Route;
  gateId?: string;
  runId?: string;
}

/** What the screen shows now, for the keys to act on. */
export interface ViewInfo {
  /** list: rows to select among; text: lines to scroll. */
  kind: "list" | "text";
  items: readonly Item[];
  /** The selected row (list), resolved from the pane's state. */
  index: number;
  /** The first row or line shown. */
  top: number;
  /** Rows or lines that fit. */
  pageSize: number;
  /** Lines in all (text). */
  lineCount: number;
  /** What the page itself is about, when no row says otherwise: a gate's page, a run's page. */
  gateId?: string;
  runId?: string;
  filterable: boolean;
  /** A list whose last row stays selected as rows are appended (see moveList). */
  follow?: boolean;
}

export function initialState(runId?: string): UiState {
  const stack: Route[] = [{ kind: "home", pane: "runs" }];
  if (runId) stack.push({ kind: "run", runId, pane: "tasks" });
  return { stack, panes: {}, mode: { kind: "browse" }, message: null };
}

export function currentRoute(ui: UiState): Route {
  return ui.stack[ui.stack.length - 1]!;
}

export function paneState(ui: UiState, route: Route = currentRoute(ui)): PaneState {
  return ui.panes[paneKey(route)] ?? NEW_PANE;
}

/**
 * Where the selection is: at its item if that is still shown, else at the
 * same place (clamped), so a row that disappears hands the selection to its
 * neighbour.
 */
export function resolveIndex(pane: PaneState, items: readonly Item[]): number {
  if (items.length === 0) return 0;
  if (pane.selected !== null) {
    const found = items.findIndex((item) => item.id === pane.selected);
    if (found >= 0) return found;
  }
  return Math.min(Math.max(0, pane.index), items.length - 1);
}

/** The first row of a window of `size` rows that shows row `index`, moving as little as possible from `top`. */
export function windowTop(top: number, index: number, size: number, count: number): number {
  const most = Math.max(0, count - size);
  return Math.min(most, Math.max(0, Math.min(index, Math.max(top, index - size + 1))));
}

export interface KeyResult {
  ui: UiState;
  command?: Command;
}

const QUIT: Command = { kind: "quit" };

export function handleKey(ui: UiState, key: Key, view: ViewInfo): KeyResult {
  if (key.ctrl && key.name === "c") return { ui, command: QUIT };
  switch (ui.mode.kind) {
    case "help":
      return { ui: { ...ui, mode: { kind: "browse" } } };
    case "filter":
      return filterKey(ui, key);
    case "reject":
      return rejectKey(ui, ui.mode, key);
    case "cancel":
      return cancelKey(ui, ui.mode, key);
    case "browse":
      return browseKey({ ...ui, message: null }, key, view);
  }
}

function withPane(ui: UiState, change: Partial<PaneState>, route: Route = currentRoute(ui)): UiState {
  return { ...ui, panes: { ...ui.panes, [paneKey(route)]: { ...paneState(ui, route), ...change } } };
}

function replaceRoute(ui: UiState, route: Route): UiState {
  return { ...ui, stack: [...ui.stack.slice(0, -1), route] };
}

function switchPane(route: Route, step: number): Route {
  const panes = panesOf(route);
  const next = panes[(panes.indexOf(paneOf(route)) + step + panes.length) % panes.length]!;
  return route.kind === "gate" ? route : ({ ...route, pane: next } as Route);
}

function selectedItem(view: ViewInfo): Item | undefined {
  return view.kind === "list" ? view.items[view.index] : undefined;
}

function moveList(ui: UiState, view: ViewInfo, to: number): UiState {
  if (view.items.length === 0) return ui;
  const index = Math.min(view.items.length - 1, Math.max(0, to));
  const top = windowTop(view.top, index, view.pageSize, view.items.length);
  // Back at the end of a followed list, the selection follows new rows again.
  if (view.follow && index === view.items.length - 1) return withPane(ui, { selected: null, index, top: null });
  return withPane(ui, { selected: view.items[index]!.id, index, top });
}

function scrollText(ui: UiState, view: ViewInfo, to: number): UiState {
  const last = Math.max(0, view.lineCount - view.pageSize);
  const top = Math.min(last, Math.max(0, to));
  // Scrolled to the end, a text follows what is appended (a task's output).
  return withPane(ui, { top: top >= last ? null : top });
}

function move(ui: UiState, view: ViewInfo, delta: number | "start" | "end"): UiState {
  if (view.kind === "list") {
    const to = delta === "start" ? 0 : delta === "end" ? view.items.length - 1 : view.index + delta;
    return moveList(ui, view, to);
  }
  const to = delta === "start" ? 0 : delta === "end" ? view.lineCount : view.top + delta;
  return scrollText(ui, view, to);
}

function browseKey(ui: UiState, key: Key, view: ViewInfo): KeyResult {
  const page = Math.max(1, view.pageSize - 1);
  switch (key.name) {
    case "q":
      return { ui, command: QUIT };
    case "?":
      return { ui: { ...ui, mode: { kind: "help" } } };
    case "up":
    case "k":
      return { ui: move(ui, view, -1) };
    case "down":
    case "j":
      return { ui: move(ui, view, 1) };
    case "pageup":
      return { ui: move(ui, view, -page) };
    case "pagedown":
    case "space":
      return { ui: move(ui, view, page) };
    case "home":
    case "g":
      return { ui: move(ui, view, key.shift ? "end" : "start") };
    case "end":
      return { ui: move(ui, view, "end") };
    case "tab":
      return { ui: replaceRoute(ui, switchPane(currentRoute(ui), key.shift ? -1 : 1)) };
    case "return":
    case "enter": {
      const open = selectedItem(view)?.open;
      return { ui: open ? { ...ui, stack: [...ui.stack, open] } : ui };
    }
    case "escape":
    case "backspace": {
      if (paneState(ui).filter) return { ui: withPane(ui, { filter: "" }) };
      return { ui: ui.stack.length > 1 ? { ...ui, stack: ui.stack.slice(0, -1) } : ui };
    }
    case "/":
      return { ui: view.filterable ? { ...ui, mode: { kind: "filter" } } : ui };
    case "a": {
      const gateId = selectedItem(view)?.gateId ?? view.gateId;
      if (!gateId) return { ui: { ...ui, message: { text: "no gate selected: choose one in a Gates pane, or a task waiting at a gate", tone: "error" } } };
      return { ui, command: { kind: "approve", gateId } };
    }
    case "r": {
      const gateId = selectedItem(view)?.gateId ?? view.gateId;
      if (!gateId) return { ui: { ...ui, message: { text: "no gate selected: choose one in a Gates pane, or a task waiting at a gate", tone: "error" } } };
      return { ui: { ...ui, mode: { kind: "reject", gateId, reason: "", action: "fail", problem: null } } };
    }
    case "c": {
      const runId = selectedItem(view)?.runId ?? view.runId;
      if (!runId) return { ui: { ...ui, message: { text: "no run selected: choose one in the Runs pane", tone: "error" } } };
      return { ui: { ...ui, mode: { kind: "cancel", runId } } };
    }
    default:
      // "G" (shift-g) arrives as name "g" with shift on some terminals and as "G" on others.
      if (key.text === "G") return { ui: move(ui, view, "end") };
      return { ui };
  }
}

/** Editing a line of text: typed characters, Backspace, Ctrl-U (clear) and Ctrl-W (delete a word). */
function editText(text: string, key: Key): string | null {
  if (key.name === "backspace") return [...text].slice(0, -1).join("");
  if (key.ctrl && key.name === "u") return "";
  if (key.ctrl && key.name === "w") return text.replace(/\S*\s*$/, "");
  if (key.text) return text + key.text;
  return null;
}

function filterKey(ui: UiState, key: Key): KeyResult {
  if (key.name === "return" || key.name === "enter") return { ui: { ...ui, mode: { kind: "browse" } } };
  if (key.name === "escape") return { ui: withPane({ ...ui, mode: { kind: "browse" } }, { filter: "" }) };
  const filter = editText(paneState(ui).filter, key);
  // The selection starts again at the top of what the filter keeps.
  return { ui: filter === null ? ui : withPane(ui, { filter, selected: null, index: 0, top: 0 }) };
}

function rejectKey(ui: UiState, mode: Extract<Mode, { kind: "reject" }>, key: Key): KeyResult {
  if (key.name === "escape") return { ui: { ...ui, mode: { kind: "browse" }, message: { text: "rejection abandoned", tone: "info" } } };
  if (key.name === "tab") return { ui: { ...ui, mode: { ...mode, action: mode.action === "fail" ? "retry" : "fail" } } };
  if (key.name === "return" || key.name === "enter") {
    const reason = mode.reason.trim();
    if (!reason) return { ui: { ...ui, mode: { ...mode, problem: "a reason is required: the task receives it" } } };
    return { ui: { ...ui, mode: { kind: "browse" } }, command: { kind: "reject", gateId: mode.gateId, reason, action: mode.action } };
  }
  const reason = editText(mode.reason, key);
  return { ui: reason === null ? ui : { ...ui, mode: { ...mode, reason, problem: null } } };
}

function cancelKey(ui: UiState, mode: Extract<Mode, { kind: "cancel" }>, key: Key): KeyResult {
  if (key.name === "y" || key.text === "Y") return { ui: { ...ui, mode: { kind: "browse" } }, command: { kind: "cancel", runId: mode.runId } };
  if (key.name === "n" || key.name === "escape" || key.name === "q") return { ui: { ...ui, mode: { kind: "browse" }, message: { text: `run ${mode.runId} left as it is`, tone: "info" } } };
  return { ui };
}

/** The state after a command ran: its outcome as the message. */
export function withMessage(ui: UiState, message: Message): UiState {
  return { ...ui, message };
}

/** Lower-case words of a filter, each of which a row's text must contain. */
export function matchesFilter(text: string, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = text.toLowerCase();
  return words.every((word) => haystack.includes(word));
}
