/**
 * Drawing a Screen with OpenTUI's imperative API: a column of Text
 * renderables (header, tabs, status, keys) around a bordered Box holding the
 * body, and a Box over it for dialogs. Rows arrive cut to the width, so no
 * Text wraps. Colours are the terminal's own palette (indexed colours), so a
 * light or dark theme keeps its look; with NO_COLOR only bold, dim and
 * inverse remain.
 */
import { BoxRenderable, RGBA, StyledText, TextAttributes, TextRenderable, type CliRenderer, type TextChunk } from "@opentui/core";
import type { Line, Style } from "../view/text.ts";
import type { Row, Screen } from "./screen.ts";

const PALETTE: Partial<Record<Style, number>> = { red: 1, green: 2, yellow: 3, cyan: 6 };

/*
 * The terminal's own foreground and background, not OpenTUI's default
 * (white): text stays readable on a light theme, and an inverse row (the
 * selection) is the terminal's own reverse video.
 */
const FOREGROUND = RGBA.defaultForeground();
const BACKGROUND = RGBA.defaultBackground();

function chunk(text: string, style: Style | undefined, color: boolean, inverse: boolean): TextChunk {
  let attributes = inverse ? TextAttributes.INVERSE : 0;
  if (style === "bold") attributes |= TextAttributes.BOLD;
  if (style === "dim") attributes |= TextAttributes.DIM;
  const index = style ? PALETTE[style] : undefined;
  const fg = color && index !== undefined ? RGBA.fromIndex(index) : FOREGROUND;
  return { __isChunk: true, text, fg, bg: BACKGROUND, ...(attributes ? { attributes } : {}) };
}

export function styledLines(rows: readonly Row[], color: boolean): StyledText {
  const chunks: TextChunk[] = [];
  rows.forEach((row, i) => {
    if (i > 0) chunks.push(chunk("\n", undefined, color, false));
    if (row.line.length === 0) chunks.push(chunk(" ", undefined, color, false));
    for (const segment of row.line) chunks.push(chunk(segment.text, segment.style, color, row.selected === true));
  });
  return new StyledText(chunks);
}

function styledLine(line: Line, color: boolean): StyledText {
  return styledLines([{ line }], color);
}

export class DashboardView {
  private readonly header: TextRenderable;
  private readonly tabs: TextRenderable;
  private readonly frame: BoxRenderable;
  private readonly body: TextRenderable;
  private readonly status: TextRenderable;
  private readonly keys: TextRenderable;
  private readonly dialogBox: BoxRenderable;
  private readonly dialogText: TextRenderable;

  constructor(
    private readonly renderer: CliRenderer,
    private readonly color: boolean,
  ) {
    const text = (id: string, options: { height?: number; flexGrow?: number } = {}) =>
      new TextRenderable(renderer, { id, content: "", fg: FOREGROUND, bg: BACKGROUND, wrapMode: "none", truncate: true, selectable: false, ...options });
    const root = new BoxRenderable(renderer, { id: "dashboard", flexDirection: "column", width: "100%", height: "100%" });
    this.header = text("header", { height: 1 });
    this.tabs = text("tabs", { height: 1 });
    this.frame = new BoxRenderable(renderer, { id: "frame", border: true, borderStyle: "single", borderColor: FOREGROUND, titleColor: FOREGROUND, flexGrow: 1, flexDirection: "column", title: "" });
    this.body = text("body", { flexGrow: 1 });
    this.status = text("status", { height: 1 });
    this.keys = text("keys", { height: 1 });
    this.frame.add(this.body);
    for (const part of [this.header, this.tabs, this.frame, this.status, this.keys]) root.add(part);
    this.dialogBox = new BoxRenderable(renderer, {
      id: "dialog",
      position: "absolute",
      zIndex: 10,
      border: true,
      borderStyle: "double",
      borderColor: FOREGROUND,
      titleColor: FOREGROUND,
      visible: false,
      backgroundColor: BACKGROUND,
      shouldFill: true,
      paddingX: 1,
    });
    this.dialogText = text("dialog-text", { flexGrow: 1 });
    this.dialogBox.add(this.dialogText);
    renderer.root.add(root);
    renderer.root.add(this.dialogBox);
  }

  draw(screen: Screen): void {
    this.header.content = styledLine(screen.header, this.color);
    this.tabs.content = styledLine(screen.tabs, this.color);
    this.frame.title = screen.title ? ` ${screen.title} ` : "";
    this.body.content = styledLines(screen.body, this.color);
    this.status.content = styledLine(screen.status, this.color);
    this.keys.content = styledLine(screen.keys, this.color);
    const dialog = screen.dialog;
    if (dialog) {
      const width = dialog.width + 4; // border and padding
      const height = dialog.lines.length + 2;
      this.dialogBox.title = ` ${dialog.title} `;
      this.dialogBox.width = width;
      this.dialogBox.height = height;
      this.dialogBox.left = Math.max(0, Math.floor((this.renderer.width - width) / 2));
      this.dialogBox.top = Math.max(0, Math.floor((this.renderer.height - height) / 2));
      this.dialogText.content = styledLines(dialog.lines.map((line) => ({ line })), this.color);
      this.dialogBox.visible = true;
    } else this.dialogBox.visible = false;
    this.renderer.requestRender();
  }
}
