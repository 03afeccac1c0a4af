/** Fails if any page links to a page that does not exist. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD } from "./lib.ts";

const broken: string[] = [];
let links = 0;
for (const file of readdirSync(BUILD).filter((name) => name.endsWith(".html"))) {
  for (const [, href] of readFileSync(join(BUILD, file), "utf8").matchAll(/href="([^"]+)"/g)) {
    if (/^[a-z]+:/.test(href!)) continue; // external
    links++;
    if (!existsSync(join(BUILD, href!.split("#")[0]!))) broken.push(`${file} -> ${href}`);
  }
}
if (broken.length > 0) {
  console.error(`${broken.length} broken link(s):\n${broken.join("\n")}`);
  process.exit(1);
}
console.log(`${links} internal links, all resolve`);
