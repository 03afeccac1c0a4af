/**
 * What a CLI call loads before it does anything: every command is listed by
 * src/cli/main.ts, and a worker loads the built-in workflows. The AI SDK, the
 * HTTP API (hono) and the dashboard (OpenTUI) are imported by the code that
 * uses them (a model call, `serve`, `tui`), not by every call: with them a
 * call's imports took about 370 ms, most of `farcaster status`'s wall time.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const LAZY = ["ai", "@ai-sdk/openai", "@ai-sdk/provider-utils", "hono", "hono-openapi", "@opentui/core"];

/** The npm packages a fresh Bun process holds after importing `modules` (ESM included: Bun lists them in require.cache). */
async function packagesLoadedBy(modules: readonly string[]): Promise<string[]> {
  const script = `
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const names = Object.keys(require.cache).filter((k) => k.includes("/node_modules/")).map((k) => {
      const parts = k.split("/node_modules/").at(-1).split("/");
      return parts[0].startsWith("@") ? parts[0] + "/" + parts[1] : parts[0];
    });
    console.log(JSON.stringify([...new Set(names)].sort()));`;
  const proc = Bun.spawn([process.execPath, "-e", script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`import failed (exit ${code}): ${err}`);
  return JSON.parse(out) as string[];
}

describe("start-up imports", () => {
  test("the CLI with every command and the built-in workflows loads zod and croner, not the AI SDK, hono or OpenTUI", async () => {
    const workflows = readdirSync(join(ROOT, "workflows")).filter((f) => f.endsWith(".ts")).map((f) => join(ROOT, "workflows", f));
    expect(workflows.length).toBeGreaterThan(3);
    const loaded = await packagesLoadedBy([join(ROOT, "src/cli/main.ts"), ...workflows]);
    expect(loaded).toContain("zod"); // the check sees packages at all
    expect(loaded.filter((name) => LAZY.includes(name))).toEqual([]);
  });

  test("the code that needs them still gets them: the planner brings the AI SDK, the API brings hono", async () => {
    const loaded = await packagesLoadedBy([join(ROOT, "src/architect/planner.ts"), join(ROOT, "src/api/app.ts")]);
    expect(loaded).toEqual(expect.arrayContaining(["ai", "hono"]));
  });
});
