/** Shared by the example's scripts: where things are, and a tiny Markdown renderer. */
import { join } from "node:path";

export const NOTES = join(import.meta.dir, "..", "notes");
/** Output goes under .farcaster/ of the directory the run was started from. */
export const OUT = join(process.cwd(), ".farcaster", "example-site");
export const BUILD = join(OUT, "build");
export const PUBLISHED = join(OUT, "published");

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function inline(text: string): string {
  return escape(text)
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/`(.+?)`/g, "<code>$1</code>")
    .replace(/\[(.+?)\]\((.+?)\)/g, '<a href="$2">$1</a>');
}

export function renderMarkdown(markdown: string): { title: string; html: string; words: number } {
  const blocks = markdown.trim().split(/\n\s*\n/);
  let title = "untitled";
  const html = blocks.map((block) => {
    if (block.startsWith("# ")) {
      title = block.slice(2).trim();
      return `<h1>${inline(title)}</h1>`;
    }
    if (block.split("\n").every((line) => line.startsWith("- "))) {
      return `<ul>${block.split("\n").map((line) => `<li>${inline(line.slice(2))}</li>`).join("")}</ul>`;
    }
    return `<p>${inline(block.replace(/\n/g, " "))}</p>`;
  });
  return { title, html: html.join("\n"), words: markdown.split(/\s+/).filter(Boolean).length };
}

export function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>\n<body>\n${body}\n</body></html>\n`;
}
