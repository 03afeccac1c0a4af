/** Writes index.html: every note with its title and reading time. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD, NOTES, page, renderMarkdown } from "./lib.ts";

mkdirSync(BUILD, { recursive: true });
const items = readdirSync(NOTES).filter((name) => name.endsWith(".md")).sort().map((file) => {
  const { title, words } = renderMarkdown(readFileSync(join(NOTES, file), "utf8"));
  const minutes = Math.max(1, Math.round(words / 200));
  return `<li><a href="${file.replace(/\.md$/, ".html")}">${title}</a> (${minutes} min)</li>`;
});
writeFileSync(join(BUILD, "index.html"), page("Field notes", `<h1>Field notes</h1>\n<ul>\n${items.join("\n")}\n</ul>`));
console.log(`index.html lists ${items.length} notes`);
