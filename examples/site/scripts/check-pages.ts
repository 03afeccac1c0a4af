/** Fails if a page lacks a title or a heading, or is empty. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD } from "./lib.ts";

const problems: string[] = [];
const pages = readdirSync(BUILD).filter((name) => name.endsWith(".html"));
for (const file of pages) {
  const html = readFileSync(join(BUILD, file), "utf8");
  if (!/<title>[^<]+<\/title>/.test(html)) problems.push(`${file}: no <title>`);
  if (!/<h1>/.test(html)) problems.push(`${file}: no <h1>`);
  if (html.replace(/<[^>]+>/g, "").trim().length < 20) problems.push(`${file}: almost empty`);
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`${pages.length} pages have a title, a heading and content`);
