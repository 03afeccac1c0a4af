/**
 * The README's "Embedding" program, run exactly as written: extracted from
 * README.md (so the two cannot drift), in a directory of its own where
 * `farcaster` is installed by name (node_modules/farcaster is this
 * repository, as a `file:` or workspace install would make it) next to the
 * zod the program imports itself.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitForRun } from "../src/engine/waitForRun.ts";
import { REPO, withReader } from "./cli-helpers.ts";
import { freshDir, freshStore, rejected } from "./helpers.ts";

/** The first ```ts block under the README's "## Embedding" heading. */
function embeddingProgram(): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((part) => part.startsWith("Embedding\n"));
  if (!section) throw new Error('README.md has no "## Embedding" section');
  const block = section.match(/^```ts\n([\s\S]*?)^```$/m);
  if (!block) throw new Error('the "Embedding" section of README.md has no ```ts block');
  return block[1]!;
}

/** A directory where `import … from "farcaster"` finds this repository by its package name. */
function projectDir(): string {
  const dir = freshDir();
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(REPO, join(dir, "node_modules", "farcaster"), "dir");
  symlinkSync(join(REPO, "node_modules", "zod"), join(dir, "node_modules", "zod"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "embeds-farcaster", private: true, type: "module" }));
  return dir;
}

describe("embedding", () => {
  test("the README's program imports farcaster by name, runs its workplan to the end in-process and exits 0", async () => {
    const program = embeddingProgram();
    expect(program).toContain('from "farcaster"');
    expect(program).not.toContain("src/");
    const dir = projectDir();
    writeFileSync(join(dir, "main.ts"), program);
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    delete env.FARCASTER_DB;
    delete env.FARCASTER_WORKFLOWS;
    const proc = Bun.spawn([process.execPath, "main.ts"], { cwd: dir, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trimEnd().split("\n");
    expect(lines.slice(0, 3)).toEqual([
      'ada succeeded {"greeting":"Hello, Ada!"}',
      'alan succeeded {"greeting":"Hello, Alan!"}',
      "both succeeded {}",
    ]);
    expect(lines[3]).toMatch(/^run r\w+ succeeded$/);

    // What it wrote is an ordinary Farcaster database: its steps were journaled.
    await withReader(join(dir, "embedded.db"), async (store) => {
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ state: "succeeded", goal: "Greet Ada and Alan, then both at once" });
      const ada = await store.findTask(run!.id, "ada");
      expect((await store.listSteps(ada.id)).map((s) => [s.key, s.status, s.output])).toEqual([["compose", "completed", "Hello, Ada!"]]);
    });
  });

  test("the package's exports name src/index.ts, and what it exports is the public API the README lists", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    expect(pkg.name).toBe("farcaster");
    expect(pkg.exports["."]).toBe("./src/index.ts");
    const api = await import(join(REPO, pkg.exports["."]));
    for (const name of ["defineWorkflow", "Drone", "loadWorkflows", "WorkflowRegistry", "openStore", "submitPlan", "checkPlan", "waitForRun", "Scheduler", "addSchedule", "fireInput", "createApp", "approveGate", "rejectGate", "emitSignal", "parseWorkplan", "validateWorkplan", "ManualClock", "FarcasterError", "NonRetryableError", "ERROR_CODES", "TERMINAL_RUN_STATES"]) {
      expect(api[name], name).toBeDefined();
    }
  });

  test("waitForRun resolves with a run that ended however it ended, and rejects with the reason when aborted first", async () => {
    const { store } = freshStore();
    const plan = { goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", input: {} }] };
    const open = await store.createRun(plan);
    const cancelled = await store.createRun(plan);
    const waiting = waitForRun(store, cancelled.id);
    await store.cancelRun(cancelled.id, { reason: "not needed" });
    expect(await waiting).toMatchObject({ id: cancelled.id, state: "cancelled" });
    const controller = new AbortController();
    const stuck = waitForRun(store, open.id, { signal: controller.signal });
    controller.abort(new Error("gave up"));
    expect((await rejected(stuck)).message).toBe("gave up");
    expect(await rejected(waitForRun(store, "rnope"))).toMatchObject({ code: "run_not_found" });
  });
});
