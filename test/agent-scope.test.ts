import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkCommand } from "../src/agent/command.ts";
import { ScopeViolation, Workspace, type ScopeViolationCode } from "../src/agent/scope.ts";

/** A workspace `ws` with src/ and docs/, next to an `outside` directory holding a secret. */
function setup(writes: string[] = ["src/**", "docs/*.md"]) {
  const base = mkdtempSync(join(process.env.FARCASTER_TEST_DIR!, "scope-"));
  const root = join(base, "ws");
  const outside = join(base, "outside");
  mkdirSync(join(root, "src"), { recursive: true });
  mkdirSync(join(root, "docs"));
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "secret");
  writeFileSync(join(root, "src", "a.ts"), "a");
  symlinkSync(join(outside, "secret.txt"), join(root, "src", "evil.ts")); // file link out
  symlinkSync(outside, join(root, "src", "linkdir")); // directory link out
  symlinkSync(join(outside, "created.ts"), join(root, "src", "dangling.ts")); // dangling link out
  symlinkSync("../src", join(root, "docs", "alias")); // link that stays inside
  return { base, root, outside, ws: new Workspace(root, { writes, commands: [] }) };
}

function refusal(fn: () => unknown): ScopeViolation {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScopeViolation);
    return error as ScopeViolation;
  }
  throw new Error("expected a ScopeViolation");
}

describe("Workspace.resolveForRead", () => {
  test("anything inside the workspace, relative or absolute", () => {
    const { ws, root } = setup();
    expect(ws.resolveForRead("src/a.ts")).toMatchObject({ abs: join(root, "src/a.ts"), rel: "src/a.ts" });
    expect(ws.resolveForRead(join(root, "src/a.ts")).rel).toBe("src/a.ts");
    expect(ws.resolveForRead("src/../docs/new.md").rel).toBe("docs/new.md");
    expect(ws.resolveForRead(".").rel).toBe(".");
    expect(ws.resolveForRead("").rel).toBe(".");
    expect(ws.resolveForRead("docs/alias/a.ts").rel).toBe("docs/alias/a.ts"); // link that stays inside
  });

  const cases: [string, (root: string, outside: string) => string, ScopeViolationCode][] = [
    ["`..` traversal", () => "../outside/secret.txt", "outside_workspace"],
    ["`..` inside the path", () => "src/../../outside/secret.txt", "outside_workspace"],
    ["absolute path outside", () => "/etc/passwd", "outside_workspace"],
    ["the workspace's parent", (root) => join(root, ".."), "outside_workspace"],
    ["file symlink pointing outside", () => "src/evil.ts", "symlink_escape"],
    ["symlinked parent directory", () => "src/linkdir/secret.txt", "symlink_escape"],
    ["dangling symlink pointing outside", () => "src/dangling.ts", "symlink_escape"],
  ];
  for (const [name, path, code] of cases) {
    test(`refuses ${name}`, () => {
      const { ws, root, outside } = setup();
      const p = path(root, outside);
      const error = refusal(() => ws.resolveForRead(p));
      expect(error.code).toBe(code);
      expect(error.message).toStartWith(`read refused: "${p}"`);
    });
  }

  test("a symlink loop is refused", () => {
    const { ws, root } = setup();
    symlinkSync("loop2", join(root, "loop1"));
    symlinkSync("loop1", join(root, "loop2"));
    expect(refusal(() => ws.resolveForRead("loop1/x")).code).toBe("symlink_escape");
  });

  test("a root reached through a symlink still works, by either name", () => {
    const { base, root } = setup();
    symlinkSync(root, join(base, "ws-link"));
    const ws = new Workspace(join(base, "ws-link"), { writes: ["src/**"] });
    expect(ws.resolveForRead("src/a.ts").rel).toBe("src/a.ts");
    expect(ws.resolveForRead(join(root, "src/a.ts")).rel).toBe("src/a.ts");
    expect(ws.resolveForWrite("src/b.ts").real).toBe(join(ws.realRoot, "src/b.ts"));
    expect(refusal(() => ws.resolveForRead("src/evil.ts")).code).toBe("symlink_escape");
  });

  test("the root must be absolute and exist", () => {
    expect(() => new Workspace("relative/dir", {})).toThrow(/absolute/);
    expect(() => new Workspace("/no/such/dir/anywhere", {})).toThrow(/does not exist/);
  });
});

describe("Workspace.resolveForWrite", () => {
  test("allowed paths, new files and new directories included", () => {
    const { ws, root } = setup();
    expect(ws.resolveForWrite("src/a.ts").rel).toBe("src/a.ts");
    expect(ws.resolveForWrite("src/new/deep/file.ts")).toMatchObject({ rel: "src/new/deep/file.ts", abs: join(root, "src/new/deep/file.ts") });
    expect(ws.resolveForWrite("./docs/readme.md").rel).toBe("docs/readme.md");
    expect(ws.resolveForWrite(join(root, "docs/x.md")).rel).toBe("docs/x.md");
  });

  const cases: [string, string, ScopeViolationCode][] = [
    ["`..` traversal", "../etc/passwd", "outside_workspace"],
    ["absolute path outside", "/tmp/farcaster-should-not-exist.txt", "outside_workspace"],
    ["path outside the globs", "README.md", "not_in_write_scope"],
    ["a glob that does not reach nested dirs", "docs/sub/x.md", "not_in_write_scope"],
    ["file symlink pointing outside", "src/evil.ts", "symlink_escape"],
    ["symlinked parent directory", "src/linkdir/new.ts", "symlink_escape"],
    ["dangling symlink pointing outside", "src/dangling.ts", "symlink_escape"],
    ["the workspace root", ".", "not_in_write_scope"],
  ];
  for (const [name, path, code] of cases) {
    test(`refuses ${name}, naming the allowed globs`, () => {
      const { ws } = setup();
      const error = refusal(() => ws.resolveForWrite(path));
      expect(error.code).toBe(code);
      expect(error.message).toStartWith(`write refused: "${path}"`);
      expect(error.message).toEndWith("this task may write: src/**, docs/*.md");
    });
  }

  test("the brief's example message", () => {
    const { ws } = setup();
    expect(refusal(() => ws.resolveForWrite("../etc/passwd")).message).toBe(
      'write refused: "../etc/passwd" is outside the workspace; this task may write: src/**, docs/*.md',
    );
  });

  test("a link inside the workspace is judged by both names", () => {
    // docs/alias -> ../src. The name the model used must be in scope...
    expect(refusal(() => setup(["src/**"]).ws.resolveForWrite("docs/alias/x.ts")).code).toBe("not_in_write_scope");
    // ...and so must the file the bytes land in.
    const error = refusal(() => setup(["docs/**"]).ws.resolveForWrite("docs/alias/x.ts"));
    expect(error.code).toBe("not_in_write_scope");
    expect(error.message).toContain('resolves through a symlink to "src/x.ts"');
    expect(setup(["docs/**", "src/**"]).ws.resolveForWrite("docs/alias/x.ts").real).toEndWith("/ws/src/x.ts");
  });

  test("no write scope: nothing may be written", () => {
    const { ws } = setup([]);
    const error = refusal(() => ws.resolveForWrite("src/a.ts"));
    expect(error.code).toBe("no_write_scope");
    expect(error.message).toContain("no write scope");
    expect(ws.resolveForRead("src/a.ts").rel).toBe("src/a.ts"); // reading is still fine
  });

  test(".git and .farcaster are never writable, even under **", () => {
    const { ws, root } = setup(["**"]);
    expect(ws.resolveForWrite("src/a.ts").rel).toBe("src/a.ts");
    for (const path of [".git/hooks/pre-commit", "sub/.git/config", ".farcaster/farcaster.db"]) {
      expect(refusal(() => ws.resolveForWrite(path)).code).toBe("protected_path");
    }
    symlinkSync(".git", join(root, "gitlink"));
    expect(refusal(() => ws.resolveForWrite("gitlink/hooks/pre-push")).code).toBe("protected_path");
  });
});

describe("checkCommand", () => {
  const patterns = ["bun test*", "git status", "git diff *", "bun test 2>&1 | tail*", "make build && make test", "npm run lint:fix"];
  const allowed = [
    "bun test",
    "bun test test/agent-scope.test.ts",
    "bun tests", // `*` is any run of characters
    "bun test --timeout 30000 test/a.test.ts",
    "bun test $HOME/x", // a variable is not a substitution
    "  git status  ",
    "git diff --stat src/",
    "bun test 2>&1 | tail -n 20", // the pattern spells out the pipe
    "make build && make test", // equal to a pattern
    "npm run lint:fix",
  ];
  const denied = [
    "bun test; rm -rf /",
    "bun test && rm -rf /",
    "bun test || rm -rf /",
    "bun test | sh",
    "bun test & rm -rf /",
    "bun test `rm -rf /`",
    "bun test $(rm -rf /)",
    "bun test ${X:-$(rm -rf /)}",
    "bun test > ~/.bashrc",
    "bun test < /etc/passwd",
    "bun test 2>/dev/null",
    "bun test\nrm -rf /",
    "bun test\rrm -rf /",
    "bun test (subshell)",
    "bun test 2>&1 | tail -n 5; rm -rf /",
    "bun test 2>&1 | tail | sh",
    "make build && make test; rm -rf /",
    "git status; rm -rf /",
    "git statusx",
    "git",
    "git diff", // `git diff *` needs the space and something after it
    "rm -rf /",
    "npm run lint-fix",
    "",
    "   ",
    "bun test " + "x".repeat(9_000),
  ];
  for (const command of allowed) {
    test(`allows ${JSON.stringify(command)}`, () => {
      expect(checkCommand(command, patterns).allowed).toBe(true);
    });
  }
  for (const command of denied) {
    test(`denies ${JSON.stringify(command.slice(0, 60))}`, () => {
      const result = checkCommand(command, patterns);
      expect(result.allowed).toBe(false);
    });
  }

  test("the reason names the patterns and explains metacharacters", () => {
    const result = checkCommand("bun test; rm -rf /", ["bun test*", "git status"]);
    expect(result).toEqual({ allowed: false, reason: expect.stringContaining("allowed patterns: bun test*, git status") });
    expect(!result.allowed && result.reason).toContain("shell metacharacters");
    expect(checkCommand("ls", [])).toEqual({ allowed: false, reason: expect.stringContaining("allowed patterns: (none)") });
  });

  test("the matching pattern is reported; regex characters in patterns are literal", () => {
    expect(checkCommand("bun test x", ["git status", "bun test*"])).toEqual({ allowed: true, pattern: "bun test*" });
    expect(checkCommand("echo aXb", ["echo a.b"]).allowed).toBe(false);
    expect(checkCommand("echo a+b", ["echo a+b"]).allowed).toBe(true);
  });

  test("Workspace.checkCommand uses the task's patterns", () => {
    const { root } = setup();
    const ws = new Workspace(root, { writes: [], commands: ["bun test*"] });
    expect(ws.checkCommand("bun test").allowed).toBe(true);
    expect(ws.checkCommand("bun test; rm -rf /").allowed).toBe(false);
  });
});
