/** A key press as the dashboard's state machine sees it: a name, modifiers, and the text it types (if any). */

export interface Key {
  /** "j", "return", "escape", "tab", "up", "pagedown", "space", "?"… */
  name: string;
  ctrl: boolean;
  meta: boolean;
  shift: boolean;
  /** What the key types into a text field: "" for keys that type nothing (arrows, Enter, Ctrl-…). */
  text: string;
}

/** From a parsed key (OpenTUI's KeyEvent has these fields). */
export function keyFrom(event: { name: string; ctrl: boolean; meta: boolean; shift: boolean; sequence: string }): Key {
  const printable = !event.ctrl && !event.meta && event.sequence.length > 0 && !/[\x00-\x1f\x7f]/.test(event.sequence);
  return { name: event.name, ctrl: event.ctrl, meta: event.meta, shift: event.shift, text: printable ? event.sequence : "" };
}

/** A key by name, for tests and for mapping: `key("j")`, `key("c", { ctrl: true })`, `key("return")`. */
export function key(name: string, modifiers: { ctrl?: boolean; meta?: boolean; shift?: boolean } = {}): Key {
  const text = !modifiers.ctrl && !modifiers.meta ? (name === "space" ? " " : [...name].length === 1 ? name : "") : "";
  return { name, ctrl: modifiers.ctrl ?? false, meta: modifiers.meta ?? false, shift: modifiers.shift ?? false, text };
}
