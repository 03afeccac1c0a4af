/** Renders every note to an HTML page under .farcaster/example-site/build. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD, NOTES, page, renderMarkdown } from "./lib.ts";

mkdirSync(BUILD, { recursive: true });
let words = 0;
for (const file of readdirSync(NOTES).filter((name) => name.endsWith(".md")).sort()) {
  const { title, html, words: count } = renderMarkdown(readFileSync(join(NOTES, file), "utf8"));
  writeFileSync(join(BUILD, file.replace(/\.md$/, ".html")), page(title, html));
  words += count;
  console.log(`rendered ${file} -> ${file.replace(/\.md$/, ".html")} (${count} words)`);
}
console.log(`${words} words in all`);
