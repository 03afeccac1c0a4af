/** The dashboard's keys: a key and what the screen shows in, the next state and at most one command out. */
import { describe, expect, test } from "bun:test";
import { key, keyFrom, type Key } from "../src/tui/keys.ts";
import { currentRoute, handleKey, initialState, matchesFilter, paneState, resolveIndex, windowTop, type Item, type UiState, type ViewInfo } from "../src/tui/state.ts";

function list(items: Item[], fields: Partial<ViewInfo> = {}): ViewInfo {
  return { kind: "list", items, index: 0, top: 0, pageSize: 5, lineCount: items.length, filterable: true, ...fields };
}

function text(lineCount: number, fields: Partial<ViewInfo> = {}): ViewInfo {
  return { kind: "text", items: [], index: 0, top: 0, pageSize: 10, lineCount, filterable: false, ...fields };
}

const runs: Item[] = ["r1", "r2", "r3"].map((id) => ({ id, runId: id, open: { kind: "run", runId: id, pane: "tasks" } }));
const gates: Item[] = ["g1", "g2", "g3"].map((id) => ({ id, gateId: id, open: { kind: "gate", gateId: id } }));

/** Presses keys in turn, each against the view `view(state)` gives; returns the last state and every command. */
function press(ui: UiState, keys: Key[], view: (ui: UiState) => ViewInfo) {
  const commands = [];
  for (const k of keys) {
    const result = handleKey(ui, k, view(ui));
    ui = result.ui;
    if (result.command) commands.push(result.command);
  }
  return { ui, commands };
}

/** A list view as the screen would resolve it from the state. */
function listOf(items: Item[], pageSize = 5) {
  return (ui: UiState): ViewInfo => {
    const pane = paneState(ui);
    const index = resolveIndex(pane, items);
    return list(items, { index, top: windowTop(pane.top ?? index, index, pageSize, items.length), pageSize });
  };
}

const typing = (s: string) => [...s].map((c) => key(c));

describe("keys", () => {
  test("parsed keys keep their name; only keys without Ctrl or Alt type text", () => {
    expect(keyFrom({ name: "a", ctrl: false, meta: false, shift: true, sequence: "A" })).toEqual({ name: "a", ctrl: false, meta: false, shift: true, text: "A" });
    expect(keyFrom({ name: "c", ctrl: true, meta: false, shift: false, sequence: "\x03" }).text).toBe("");
    expect(keyFrom({ name: "up", ctrl: false, meta: false, shift: false, sequence: "\x1b[A" }).text).toBe("");
    expect(keyFrom({ name: "space", ctrl: false, meta: false, shift: false, sequence: " " }).text).toBe(" ");
    expect(keyFrom({ name: "é", ctrl: false, meta: false, shift: false, sequence: "é" }).text).toBe("é");
  });

  test("q and Ctrl-C quit; Ctrl-C even in a dialog, where q is typed", () => {
    const ui = initialState();
    expect(handleKey(ui, key("q"), list(runs)).command).toEqual({ kind: "quit" });
    expect(handleKey(ui, key("c", { ctrl: true }), list(runs)).command).toEqual({ kind: "quit" });
    const rejecting: UiState = { ...ui, mode: { kind: "reject", gateId: "g1", reason: "", action: "fail", problem: null } };
    const typed = handleKey(rejecting, key("q"), list(gates));
    expect(typed.command).toBeUndefined();
    expect(typed.ui.mode).toMatchObject({ kind: "reject", reason: "q" });
    expect(handleKey(rejecting, key("c", { ctrl: true }), list(gates)).command).toEqual({ kind: "quit" });
  });

  test("↓/j and ↑/k move the selection within the list and stop at its ends", () => {
    const view = listOf(runs);
    let { ui } = press(initialState(), [key("down"), key("j")], view);
    expect(paneState(ui)).toMatchObject({ selected: "r3", index: 2 });
    ({ ui } = press(ui, [key("j")], view));
    expect(paneState(ui).selected).toBe("r3");
    ({ ui } = press(ui, [key("k"), key("up"), key("up")], view));
    expect(paneState(ui).selected).toBe("r1");
  });

  test("the selection stays on its item when rows come and go, and moves to the neighbour when its item is gone", () => {
    const { ui } = press(initialState(), [key("j")], listOf(gates));
    expect(paneState(ui).selected).toBe("g2");
    // g1 decided elsewhere: g2 is now first, and still selected.
    expect(resolveIndex(paneState(ui), gates.slice(1))).toBe(0);
    // g2 decided elsewhere: the selection falls to what took its place.
    expect(gates.filter((g) => g.id !== "g2")[resolveIndex(paneState(ui), gates.filter((g) => g.id !== "g2"))]!.id).toBe("g3");
    expect(resolveIndex(paneState(ui), [])).toBe(0);
  });

  test("a page down moves the window with the selection; g and G go to the ends", () => {
    const many: Item[] = Array.from({ length: 30 }, (_, i) => ({ id: `r${i}` }));
    const view = listOf(many, 10);
    let { ui } = press(initialState(), [key("pagedown")], view);
    expect(paneState(ui)).toMatchObject({ selected: "r9", top: 0 });
    ({ ui } = press(ui, [key("pagedown")], view));
    expect(paneState(ui)).toMatchObject({ selected: "r18", top: 9 });
    ({ ui } = press(ui, [key("g", { shift: true })], view));
    expect(paneState(ui)).toMatchObject({ selected: "r29", top: 20 });
    ({ ui } = press(ui, [key("g")], view));
    expect(paneState(ui)).toMatchObject({ selected: "r0", top: 0 });
  });

  test("at the end of a followed list the selection follows new rows again", () => {
    const events: Item[] = Array.from({ length: 4 }, (_, i) => ({ id: String(i) }));
    const { ui } = press(initialState(), [key("k"), key("j")], (u) => ({ ...listOf(events)(u), follow: true, index: paneState(u).selected === null ? 3 : resolveIndex(paneState(u), events) }));
    expect(paneState(ui).selected).toBeNull();
  });

  test("in a text the arrows scroll; at the end it follows what is appended", () => {
    let { ui } = press(initialState(), [key("j"), key("j")], (u) => text(30, { top: paneState(u).top ?? 20 }));
    expect(paneState(ui).top).toBe(2);
    ({ ui } = press(ui, [key("end")], () => text(30)));
    expect(paneState(ui).top).toBeNull();
    ({ ui } = press(ui, [key("up")], () => text(30, { top: 20 })));
    expect(paneState(ui).top).toBe(19);
  });

  test("Enter opens the selected row; Esc and Backspace go back; at the start there is nowhere to go back to", () => {
    const { ui } = press(initialState(), [key("j"), key("return")], listOf(runs));
    expect(currentRoute(ui)).toEqual({ kind: "run", runId: "r2", pane: "tasks" });
    expect(currentRoute(handleKey(ui, key("escape"), list([])).ui)).toEqual({ kind: "home", pane: "runs" });
    expect(currentRoute(handleKey(ui, key("backspace"), list([])).ui)).toEqual({ kind: "home", pane: "runs" });
    expect(handleKey(initialState(), key("escape"), list(runs)).ui.stack).toHaveLength(1);
    expect(initialState("r9").stack.map((r) => r.kind)).toEqual(["home", "run"]);
  });

  test("Tab and Shift-Tab switch among the route's panes, each keeping its own selection", () => {
    let { ui } = press(initialState(), [key("j"), key("tab")], listOf(runs));
    expect(currentRoute(ui)).toEqual({ kind: "home", pane: "gates" });
    ({ ui } = press(ui, [key("tab"), key("tab"), key("tab")], listOf(runs)));
    expect(currentRoute(ui)).toEqual({ kind: "home", pane: "runs" });
    expect(paneState(ui).selected).toBe("r2");
    ({ ui } = press(ui, [key("tab", { shift: true })], listOf(runs)));
    expect(currentRoute(ui)).toEqual({ kind: "home", pane: "events" });
  });

  test("a approves the selected gate, or the gate of the page; without one it says what to select", () => {
    const { commands } = press(initialState(), [key("j"), key("a")], listOf(gates));
    expect(commands).toEqual([{ kind: "approve", gateId: "g2" }]);
    expect(handleKey(initialState(), key("a"), text(3, { gateId: "g7" })).command).toEqual({ kind: "approve", gateId: "g7" });
    const none = handleKey(initialState(), key("a"), list(runs));
    expect(none.command).toBeUndefined();
    expect(none.ui.message).toMatchObject({ tone: "error" });
    expect(none.ui.message!.text).toContain("no gate selected");
  });

  test("r asks for a reason, refuses an empty one, switches retry and fail with Tab, and Enter records the rejection", () => {
    const view = listOf(gates);
    let { ui, commands } = press(initialState(), [key("r")], view);
    expect(ui.mode).toEqual({ kind: "reject", gateId: "g1", reason: "", action: "fail", problem: null });
    ({ ui, commands } = press(ui, [key("space"), key("return")], view));
    expect(commands).toEqual([]);
    expect(ui.mode).toMatchObject({ kind: "reject", problem: "a reason is required: the task receives it" });
    ({ ui, commands } = press(ui, [key("backspace"), ...typing("needs tests!"), key("backspace"), key("tab"), key("return")], view));
    expect(commands).toEqual([{ kind: "reject", gateId: "g1", reason: "needs tests", action: "retry" }]);
    expect(ui.mode.kind).toBe("browse");
  });

  test("Esc abandons a rejection; Ctrl-U clears the reason and Ctrl-W deletes its last word", () => {
    let { ui, commands } = press(initialState(), [key("r"), ...typing("too many words"), key("w", { ctrl: true })], listOf(gates));
    expect(ui.mode).toMatchObject({ reason: "too many " });
    ({ ui } = press(ui, [key("u", { ctrl: true })], listOf(gates)));
    expect(ui.mode).toMatchObject({ reason: "" });
    ({ ui, commands } = press(ui, [key("escape")], listOf(gates)));
    expect(commands).toEqual([]);
    expect(ui.mode.kind).toBe("browse");
    expect(ui.message?.text).toBe("rejection abandoned");
  });

  test("c asks before it cancels the selected run: y cancels, n or Esc keep it", () => {
    let { ui, commands } = press(initialState(), [key("j"), key("c")], listOf(runs));
    expect(ui.mode).toEqual({ kind: "cancel", runId: "r2" });
    ({ ui, commands } = press(ui, [key("x"), key("n")], listOf(runs)));
    expect(commands).toEqual([]);
    expect(ui.mode.kind).toBe("browse");
    ({ ui, commands } = press(ui, [key("c"), key("y")], listOf(runs)));
    expect(commands).toEqual([{ kind: "cancel", runId: "r2" }]);
    expect(handleKey(initialState(), key("c"), text(3, { runId: "r8" })).ui.mode).toEqual({ kind: "cancel", runId: "r8" });
  });

  test("/ types a filter into the pane (selection back at the top); Enter keeps it, Esc clears it; Esc in the list clears it before going back", () => {
    let { ui } = press(initialState("r1"), [key("j"), key("/"), ...typing("bu ld")], listOf(runs));
    expect(paneState(ui)).toMatchObject({ filter: "bu ld", selected: null, index: 0 });
    ({ ui } = press(ui, [key("return")], listOf(runs)));
    expect(ui.mode.kind).toBe("browse");
    ({ ui } = press(ui, [key("escape")], listOf(runs)));
    expect(paneState(ui).filter).toBe("");
    expect(currentRoute(ui).kind).toBe("run");
    ({ ui } = press(ui, [key("/"), key("x"), key("escape")], listOf(runs)));
    expect(paneState(ui).filter).toBe("");
    expect(handleKey(initialState(), key("/"), text(3)).ui.mode.kind).toBe("browse"); // a text has no filter
  });

  test("? shows the keys and any key closes them", () => {
    const { ui } = press(initialState(), [key("?")], listOf(runs));
    expect(ui.mode.kind).toBe("help");
    const closed = handleKey(ui, key("q"), list(runs));
    expect(closed.ui.mode.kind).toBe("browse");
    expect(closed.command).toBeUndefined();
  });

  test("a filter matches rows that contain each of its words, in any order and case", () => {
    expect(matchesFilter("build running h:1:d1", "RUN build")).toBe(true);
    expect(matchesFilter("build running", "build failed")).toBe(false);
    expect(matchesFilter("anything", "  ")).toBe(true);
  });
});
