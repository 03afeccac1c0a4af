/** Copies the checked build to published/ with a manifest of SHA-256 hashes. */
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD, PUBLISHED } from "./lib.ts";

rmSync(PUBLISHED, { recursive: true, force: true });
cpSync(BUILD, PUBLISHED, { recursive: true });
const manifest = Object.fromEntries(
  readdirSync(PUBLISHED).sort().map((file) => [file, new Bun.CryptoHasher("sha256").update(readFileSync(join(PUBLISHED, file))).digest("hex")]),
);
writeFileSync(join(PUBLISHED, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`published ${Object.keys(manifest).length} files to ${PUBLISHED}`);
