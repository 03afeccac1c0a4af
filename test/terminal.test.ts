/**
 * The main job in a real terminal (tmux on a private socket): gate questions
 * that follow the store, and Ctrl-C at a question.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRY, farcaster, pendingGates } from "./cli-helpers.ts";
import { freshDir, until } from "./helpers.ts";

const GOAL = "# Two steps\n\n## first: First\nrun: echo one > first.txt\n\n## check: A person checks\nafter: first\ngate: Is first.txt right?\n\n## second: Second\nafter: check\nrun: echo two > second.txt\n";

const servers: string[] = [];
afterEach(() => {
  for (const name of servers.splice(0)) Bun.spawnSync(["tmux", "-L", name, "kill-server"], { stderr: "ignore" });
});

/** Runs `farcaster ARGS` in a terminal of its own; `screen()` is what the terminal shows (scrollback included). */
function terminal(args: string[], cwd: string, env: Record<string, string> = {}) {
  const name = `farcaster-test-${process.pid}-${servers.length}-${Date.now()}`;
  servers.push(name);
  const quoted = [process.execPath, ENTRY, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const exports = Object.entries({ FARCASTER_USER: "tess", NO_COLOR: "1", ...env }).map(([k, v]) => `${k}='${v}'`).join(" ");
  const started = Bun.spawnSync(["tmux", "-L", name, "new-session", "-d", "-x", "120", "-y", "40", "-c", cwd, `env ${exports} ${quoted}; echo "EXIT:$?"; sleep 600`]);
  if (started.exitCode !== 0) throw new Error(`tmux would not start: ${started.stderr.toString()}`);
  return {
    screen: () => Bun.spawnSync(["tmux", "-L", name, "capture-pane", "-p", "-S", "-2000"]).stdout.toString(),
    keys: (...keys: string[]) => Bun.spawnSync(["tmux", "-L", name, "send-keys", ...keys]),
  };
}

describe("the main job at a terminal", () => {
  test("a question whose gate is decided elsewhere closes itself, says who decided, and the run goes on", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    const db = join(dir, ".farcaster", "farcaster.db");
    const term = terminal(["goal.md"], dir);
    await until(() => term.screen().includes("approve? [y]es"), 20_000, "the plan question");
    term.keys("y", "Enter");
    await until(async () => (await pendingGates(db)).some((g) => g.taskKey === "check"), 20_000, "the check gate");
    await until(() => term.screen().includes("Is first.txt right?"), 10_000, "the check question");
    const [gate] = await pendingGates(db);
    expect((await farcaster(["approve", gate!.id, "--by", "ops"], { cwd: dir })).code).toBe(0); // from another shell
    await until(() => term.screen().includes("EXIT:"), 20_000, "the job to end");
    const screen = term.screen();
    expect(screen).toContain(`gate ${gate!.id} was approved by ops`);
    expect(screen).toContain("elsewhere; going on");
    expect(screen).toContain("EXIT:0");
    expect(screen).not.toContain("gate_not_pending");
  }, 60_000);

  test("--yes at a terminal: the approval's line takes the live view's place, and no stale frame is left above it", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plan.json"), JSON.stringify({ goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop" }, { id: "b", title: "B", workflow: "noop", after: ["a"] }] }));
    const term = terminal(["run", "plan.json", "--yes"], dir);
    await until(() => term.screen().includes("EXIT:"), 20_000, "the job to end");
    const screen = term.screen();
    expect(screen).toContain("plan approved on your behalf (--yes): Approve the plan: 2 tasks in 2 waves?");
    expect(screen).toContain("EXIT:0");
    // The view's first frame (drawn while the plan was being checked) was cleared before the line was printed.
    expect(screen).not.toContain("planning  no tasks yet");
  }, 60_000);

  test("Ctrl-C at a gate question stops cleanly: exit 130, no stack trace, and the way to continue", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    const term = terminal(["goal.md"], dir);
    await until(() => term.screen().includes("approve? [y]es"), 20_000, "the plan question");
    term.keys("C-c");
    await until(() => term.screen().includes("EXIT:"), 20_000, "the job to end");
    const screen = term.screen();
    expect(screen).toContain("EXIT:130");
    expect(screen).toMatch(/run (r\w+) paused; its leases were released\. Continue with: farcaster resume r\w+/);
    expect(screen).not.toMatch(/AbortError|unexpected error|\n\s+at /);
  }, 60_000);

  test("Ctrl-C while typing a rejection's reason stops just as cleanly", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "goal.md"), GOAL);
    const term = terminal(["goal.md"], dir);
    await until(() => term.screen().includes("approve? [y]es"), 20_000, "the plan question");
    term.keys("n", "Enter");
    await until(() => term.screen().includes("reason (required):"), 10_000, "the reason question");
    term.keys("half a reas");
    term.keys("C-c");
    await until(() => term.screen().includes("EXIT:"), 20_000, "the job to end");
    expect(term.screen()).toContain("EXIT:130");
    const gates = JSON.parse((await farcaster(["gates", "--json"], { cwd: dir })).stdout).gates;
    expect(gates).toHaveLength(1); // nothing was decided: the plan gate still waits
  }, 60_000);
});
