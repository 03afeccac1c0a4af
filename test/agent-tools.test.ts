import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { until, rejected } from "./helpers.ts";
import {
  editFile,
  finish,
  LIMITS,
  listFiles,
  readFile,
  runCommand,
  runTool,
  searchFiles,
  TOOL_DEFINITIONS,
  TOOL_NAMES,
  Workspace,
  writeFile,
  type ToolResult,
} from "../src/agent/tools.ts";

const signal = new AbortController().signal;

/** A workspace `ws` next to an `outside` directory, with links out of the workspace. */
function setup(scope: { writes?: string[]; commands?: string[] } = { writes: ["src/**", "docs/*.md"] }) {
  const base = mkdtempSync(join(process.env.FARCASTER_TEST_DIR!, "tools-"));
  const root = join(base, "ws");
  const outside = join(base, "outside");
  mkdirSync(join(root, "src"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "secret\n");
  symlinkSync(join(outside, "secret.txt"), join(root, "src", "evil.txt"));
  symlinkSync(outside, join(root, "src", "linkdir"));
  return { base, root, outside, ws: new Workspace(root, scope) };
}

function failure(result: ToolResult) {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
  return result;
}

function success(result: ToolResult) {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result)}`);
  return result;
}

describe("write_file", () => {
  test("writes inside the scope, creating parent directories", async () => {
    const { ws, root } = setup();
    expect(await writeFile(ws, { path: "src/deep/new/a.ts", content: "x" }, signal)).toEqual({ ok: true, path: "src/deep/new/a.ts", bytes: 1, created: true });
    expect(readFileSync(join(root, "src/deep/new/a.ts"), "utf8")).toBe("x");
    expect(success(await writeFile(ws, { path: "src/deep/new/a.ts", content: "yy" }, signal)).created).toBe(false);
    expect(readFileSync(join(root, "src/deep/new/a.ts"), "utf8")).toBe("yy");
    expect(success(await writeFile(ws, { path: "docs/guide.md", content: "# hi" }, signal)).path).toBe("docs/guide.md");
  });

  const refusals: [string, string, string, (b: { root: string; outside: string; base: string }) => string][] = [
    ["outside the write scope", "README.md", "not_in_write_scope", ({ root }) => join(root, "README.md")],
    ["`..` traversal", "../escaped.txt", "outside_workspace", ({ base }) => join(base, "escaped.txt")],
    ["`..` inside the path", "src/../../outside/x.txt", "outside_workspace", ({ outside }) => join(outside, "x.txt")],
    ["an absolute path outside", "/ABS/escaped.txt", "outside_workspace", ({ outside }) => join(outside, "escaped.txt")],
    ["a symlink pointing outside", "src/evil.txt", "symlink_escape", ({ outside }) => join(outside, "secret.txt")],
    ["a symlinked parent directory", "src/linkdir/planted.txt", "symlink_escape", ({ outside }) => join(outside, "planted.txt")],
  ];
  for (const [name, rawPath, code, target] of refusals) {
    test(`refuses ${name}; nothing is written`, async () => {
      const dirs = setup();
      const path = rawPath.replace("/ABS", dirs.outside);
      const before = existsSync(target(dirs)) ? readFileSync(target(dirs), "utf8") : undefined;
      const result = failure(await writeFile(dirs.ws, { path, content: "PWNED" }, signal));
      expect(result).toMatchObject({ refused: true, code });
      expect(result.error).toContain("this task may write: src/**, docs/*.md");
      const after = existsSync(target(dirs)) ? readFileSync(target(dirs), "utf8") : undefined;
      expect(after).toBe(before);
    });
  }

  test("no write scope: refused, nothing written", async () => {
    const { ws, root } = setup({ writes: [] });
    const result = failure(await writeFile(ws, { path: "src/a.ts", content: "x" }, signal));
    expect(result).toMatchObject({ refused: true, code: "no_write_scope" });
    expect(result.error).toContain("no write scope");
    expect(existsSync(join(root, "src/a.ts"))).toBe(false);
  });

  test("content over the limit is refused", async () => {
    const { ws, root } = setup();
    expect(failure(await writeFile(ws, { path: "src/big.txt", content: "x".repeat(LIMITS.writeBytes + 1) }, signal)).error).toContain("at most");
    expect(existsSync(join(root, "src/big.txt"))).toBe(false);
  });
});

describe("edit_file", () => {
  test("replaces a unique occurrence", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "src/a.ts"), "one\ntwo\nthree\n");
    expect(await editFile(ws, { path: "src/a.ts", old: "two", new: "2" }, signal)).toEqual({ ok: true, path: "src/a.ts", line: 2 });
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("one\n2\nthree\n");
  });

  test("zero occurrences: an error, file unchanged", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "src/a.ts"), "one\n");
    expect(failure(await editFile(ws, { path: "src/a.ts", old: "missing", new: "x" }, signal)).error).toContain("not found");
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("one\n");
  });

  test("several occurrences: an error naming how many and where, file unchanged", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "src/a.ts"), "x = 1\ny\nx = 1\nx = 1\n");
    const result = failure(await editFile(ws, { path: "src/a.ts", old: "x = 1", new: "x = 2" }, signal));
    expect(result.error).toContain("occurs 3 times");
    expect(result.error).toContain("lines 1, 3, 4");
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("x = 1\ny\nx = 1\nx = 1\n");
  });

  test("scope-checked like write_file; a missing file is an error", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "README.md"), "hello");
    expect(failure(await editFile(ws, { path: "README.md", old: "hello", new: "bye" }, signal))).toMatchObject({ refused: true, code: "not_in_write_scope" });
    expect(readFileSync(join(root, "README.md"), "utf8")).toBe("hello");
    expect(failure(await editFile(ws, { path: "src/evil.txt", old: "secret", new: "x" }, signal)).code).toBe("symlink_escape");
    expect(failure(await editFile(ws, { path: "src/nope.ts", old: "a", new: "b" }, signal)).error).toBe('"src/nope.ts" does not exist');
  });
});

describe("read_file", () => {
  test("reads by lines, with offset and limit", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "notes.txt"), "l1\nl2\nl3\nl4\n");
    expect(await readFile(ws, { path: "notes.txt" }, signal)).toEqual({ ok: true, path: "notes.txt", content: "l1\nl2\nl3\nl4", startLine: 1, endLine: 4, totalLines: 4, truncated: false });
    expect(success(await readFile(ws, { path: "notes.txt", offset: 2, limit: 2 }, signal))).toMatchObject({ content: "l2\nl3", startLine: 2, endLine: 3, truncated: false });
    expect(failure(await readFile(ws, { path: "notes.txt", offset: 9 }, signal)).error).toContain("has 4 lines");
  });

  test("large files come back truncated at 64 KB, with where to continue", async () => {
    const { ws, root } = setup();
    const line = "x".repeat(99); // 100 bytes with its newline
    writeFileSync(join(root, "big.txt"), `${line}\n`.repeat(2000));
    const first = success(await readFile(ws, { path: "big.txt" }, signal));
    expect(Buffer.byteLength(first.content as string)).toBeLessThanOrEqual(LIMITS.readBytes);
    expect(first).toMatchObject({ truncated: true, startLine: 1, endLine: 655, totalLines: 2000 });
    expect(first.note).toContain("offset 656");
    const next = success(await readFile(ws, { path: "big.txt", offset: 656 }, signal));
    expect(next.startLine).toBe(656);
  });

  test("one line longer than the limit is cut", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "long.txt"), "y".repeat(100_000));
    const result = success(await readFile(ws, { path: "long.txt" }, signal));
    expect((result.content as string).length).toBe(LIMITS.readBytes);
    expect(result.truncated).toBe(true);
    expect(result.note).toContain("was cut");
  });

  test("refuses reads outside; directories, binaries and missing files are errors", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "bin.dat"), Buffer.from([1, 0, 2]));
    expect(failure(await readFile(ws, { path: "../outside/secret.txt" }, signal))).toMatchObject({ refused: true, code: "outside_workspace" });
    expect(failure(await readFile(ws, { path: "/etc/passwd" }, signal))).toMatchObject({ refused: true, code: "outside_workspace" });
    const viaLink = failure(await readFile(ws, { path: "src/evil.txt" }, signal));
    expect(viaLink).toMatchObject({ refused: true, code: "symlink_escape" });
    expect(JSON.stringify(viaLink)).not.toContain("secret\\n");
    expect(failure(await readFile(ws, { path: "src/linkdir/secret.txt" }, signal)).code).toBe("symlink_escape");
    expect(failure(await readFile(ws, { path: "src" }, signal)).error).toContain("is a directory");
    expect(failure(await readFile(ws, { path: "bin.dat" }, signal)).error).toContain("binary");
    expect(failure(await readFile(ws, { path: "nope.txt" }, signal)).error).toBe('"nope.txt" does not exist');
  });
});

describe("list_files and search_files", () => {
  function tree() {
    const dirs = setup();
    const files: Record<string, string> = {
      "README.md": "hello world\n",
      "src/a.ts": "export const needle = 1;\nconst other = 2;\n",
      "src/sub/b.ts": "// Needle in caps\nneedle();\n",
      "docs/c.md": "no match here\n",
      "node_modules/pkg/index.js": "needle\n",
      ".git/config": "needle\n",
      ".farcaster/x.txt": "needle\n",
    };
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dirs.root, path, ".."), { recursive: true });
      writeFileSync(join(dirs.root, path), content);
    }
    writeFileSync(join(dirs.outside, "planted.ts"), "needle\n");
    return dirs;
  }

  test("lists recursively, skipping node_modules/.git/.farcaster and not following links", async () => {
    const { ws } = tree();
    const result = success(await listFiles(ws, {}, signal));
    expect(result.files).toEqual(["README.md", "docs/c.md", "src/a.ts", "src/evil.txt", "src/linkdir", "src/sub/b.ts"]);
    expect(success(await listFiles(ws, { path: "src", glob: "**/*.ts" }, signal)).files).toEqual(["src/a.ts", "src/sub/b.ts"]);
    expect(success(await listFiles(ws, { glob: "*.md" }, signal)).files).toEqual(["README.md"]);
    expect(success(await listFiles(ws, { path: "node_modules" }, signal)).files).toEqual(["node_modules/pkg/index.js"]); // named explicitly
    expect(failure(await listFiles(ws, { path: "src/linkdir" }, signal)).code).toBe("symlink_escape");
    expect(failure(await listFiles(ws, { path: ".." }, signal)).code).toBe("outside_workspace");
  });

  test("list_files is bounded", async () => {
    const { ws, root } = setup();
    mkdirSync(join(root, "many"));
    for (let i = 0; i < LIMITS.listEntries + 100; i++) writeFileSync(join(root, "many", `f${String(i).padStart(4, "0")}.txt`), "");
    const result = success(await listFiles(ws, { path: "many" }, signal));
    expect((result.files as string[]).length).toBe(LIMITS.listEntries);
    expect(result.truncated).toBe(true);
    expect(result.note).toContain(`of ${LIMITS.listEntries + 100} files`);
  });

  test("searches text and regexes as path:line:text, skipping what list skips and links", async () => {
    const { ws } = tree();
    expect(success(await searchFiles(ws, { pattern: "needle" }, signal)).matches).toEqual(["src/a.ts:1:export const needle = 1;", "src/sub/b.ts:2:needle();"]);
    expect(success(await searchFiles(ws, { pattern: "needle", ignoreCase: true, path: "src/sub" }, signal)).matches).toEqual([
      "src/sub/b.ts:1:// Needle in caps",
      "src/sub/b.ts:2:needle();",
    ]);
    expect(success(await searchFiles(ws, { pattern: "^const \\w+ = \\d", regex: true }, signal)).matches).toEqual(["src/a.ts:2:const other = 2;"]);
    expect(success(await searchFiles(ws, { pattern: "needle", glob: "**/b.ts" }, signal)).matches).toEqual(["src/sub/b.ts:2:needle();"]);
    expect(success(await searchFiles(ws, { pattern: "needle", path: "src/a.ts" }, signal)).matches).toEqual(["src/a.ts:1:export const needle = 1;"]);
    expect(failure(await searchFiles(ws, { pattern: "(", regex: true }, signal)).error).toContain("invalid regular expression");
    expect(failure(await searchFiles(ws, { pattern: "secret", path: "src/linkdir" }, signal)).code).toBe("symlink_escape");
  });

  test("search_files is bounded in matches and line length", async () => {
    const { ws, root } = setup();
    writeFileSync(join(root, "many.txt"), `hit ${"z".repeat(1000)}\n`.repeat(LIMITS.searchMatches + 50));
    const result = success(await searchFiles(ws, { pattern: "hit" }, signal));
    const matches = result.matches as string[];
    expect(matches.length).toBe(LIMITS.searchMatches);
    expect(matches[0]!.length).toBe("many.txt:1:".length + LIMITS.matchChars);
    expect(result.truncated).toBe(true);
    expect(result.note).toContain(`stopped at ${LIMITS.searchMatches} matches`);
  });
});

/** Whether a process is gone (a zombie waiting for a reaper counts as gone). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return true;
  }
}

describe("run_command", () => {
  test("an allowed command runs in the workspace: exit code and output tails", async () => {
    const { ws, root } = setup({ writes: [], commands: ["sh ./script.sh*"] });
    writeFileSync(join(root, "script.sh"), 'echo "out $1 $(basename "$PWD")"; echo err >&2; exit 3\n');
    const result = await runCommand(ws, { command: "sh ./script.sh arg" }, signal);
    expect(result).toEqual({ ok: true, command: "sh ./script.sh arg", exitCode: 3, stdout: "out arg ws\n", stderr: "err\n" });
  });

  test("a command off the allow-list is not run: needsApproval", async () => {
    const { ws, root } = setup({ writes: ["**"], commands: ["echo *"] });
    for (const command of ["touch marker.txt", "echo hi; touch marker.txt", "echo $(touch marker.txt)", "echo hi > marker.txt"]) {
      const result = failure(await runCommand(ws, { command }, signal));
      expect(result).toMatchObject({ needsApproval: true, command });
      expect(result.reason).toContain("allowed patterns: echo *");
      await Bun.sleep(20); // an absence to check: give a wrongly started command time to leave its marker
      expect(existsSync(join(root, "marker.txt"))).toBe(false);
    }
    expect(success(await runCommand(ws, { command: "echo hi" }, signal)).stdout).toBe("hi\n");
  });

  test("a timeout kills the whole process group, grandchildren included", async () => {
    const { ws, root } = setup({ commands: ["sh ./spawn.sh"] });
    writeFileSync(join(root, "spawn.sh"), "sleep 30 &\necho $! > grandchild.pid\nwait\n");
    const started = Date.now();
    const result = failure(await runCommand(ws, { command: "sh ./spawn.sh", timeoutMs: 500 }, signal));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ timedOut: true });
    expect(result.error).toContain("did not finish within 500 ms");
    const pid = Number(readFileSync(join(root, "grandchild.pid"), "utf8"));
    await until(() => gone(pid), 1_000, `grandchild ${pid} to be killed`);
  });

  test("an abort from the caller kills the group and rethrows", async () => {
    const { ws, root } = setup({ commands: ["sh ./spawn.sh"] });
    writeFileSync(join(root, "spawn.sh"), "sleep 30 &\necho $! > grandchild.pid\nwait\n");
    const controller = new AbortController();
    const running = runCommand(ws, { command: "sh ./spawn.sh" }, controller.signal);
    await until(() => existsSync(join(root, "grandchild.pid")), 2_000, "the grandchild to start");
    controller.abort(new Error("cancelled"));
    expect((await rejected(running)).message).toContain("cancelled");
    const pid = Number(readFileSync(join(root, "grandchild.pid"), "utf8"));
    await until(() => gone(pid), 1_000, `grandchild ${pid} to be killed`);
  });

  test("provider keys and the API token are not passed to commands", async () => {
    const { ws } = setup({ commands: ["printenv *"] });
    process.env.OPENAI_API_KEY = "sk-test-secret";
    try {
      const result = success(await runCommand(ws, { command: "printenv OPENAI_API_KEY PATH" }, signal));
      expect(result.stdout).not.toContain("sk-test-secret");
    } finally {
      delete process.env.OPENAI_API_KEY;
    }
  });
});

describe("finish, runTool and the schemas", () => {
  test("finish returns the summary and output", async () => {
    const { ws } = setup();
    expect(await finish(ws, { summary: "done", output: { files: 2 } }, signal)).toEqual({ ok: true, finished: true, summary: "done", output: { files: 2 } });
    expect(await finish(ws, { summary: "done" }, signal)).toEqual({ ok: true, finished: true, summary: "done", output: null });
  });

  test("runTool validates names and arguments, and returns results for both", async () => {
    const { ws, root } = setup();
    expect(failure(await runTool("rm_rf", ws, {}, signal)).error).toContain("there is no tool");
    expect(failure(await runTool("write_file", ws, { path: "src/a.ts" }, signal)).error).toContain("invalid arguments for write_file");
    expect(success(await runTool("write_file", ws, { path: "src/a.ts", content: "z" }, signal)).path).toBe("src/a.ts");
    expect(readFileSync(join(root, "src/a.ts"), "utf8")).toBe("z");
    expect(failure(await runTool("write_file", ws, { path: "../x", content: "z" }, signal)).refused).toBe(true);
  });

  test("every tool has a definition whose schema converts to JSON Schema; results are JSON", async () => {
    expect(Object.keys(TOOL_DEFINITIONS)).toEqual([...TOOL_NAMES]);
    for (const name of TOOL_NAMES) {
      const definition = TOOL_DEFINITIONS[name];
      expect(definition.description.length).toBeGreaterThan(10);
      expect(z.toJSONSchema(definition.inputSchema)).toMatchObject({ type: "object" });
    }
    const { ws } = setup();
    const result = await readFile(ws, { path: "../nope" }, signal);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
});
