/**
 * `farcaster tui` in a real terminal: tmux on a private socket runs the
 * command against a database with a run waiting at a gate; the test types
 * keys into it as a person would, checks the decision with `farcaster gates
 * --all --json`, quits with q, and finds exit code 0 and the terminal given
 * back (the alternate screen left).
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRY, farcaster } from "./cli-helpers.ts";
import { REVIEW_GATE, seedDashboard } from "./fixtures/dashboard.ts";
import { freshDir, freshRealTimeStore, until } from "./helpers.ts";

const TMUX = Bun.which("tmux");
// CI installs tmux (.ci/run): there a missing tmux is a failure, not a reason to skip.
const skip = !TMUX && process.env.CI !== "true";
const socket = `farcaster-test-${process.pid}`;

function tmux(...args: string[]): string {
  const result = Bun.spawnSync([TMUX ?? "tmux", "-L", socket, "-f", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

const screen = () => tmux("capture-pane", "-p", "-t", "tui");

async function screenShows(text: string, what: string): Promise<string> {
  let shown = "";
  try {
    await until(() => (shown = screen()).includes(text), 15_000, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the screen:\n${shown}`);
  }
  return shown;
}

afterEach(() => {
  if (TMUX) Bun.spawnSync([TMUX, "-L", socket, "kill-server"], { stdout: "ignore", stderr: "ignore" });
});

test.skipIf(skip)("in tmux a person rejects a gate from the dashboard, the decision is recorded, and q exits 0 and gives the terminal back", async () => {
  const { store, path } = freshRealTimeStore();
  const { site } = await seedDashboard(store);
  await store.close();
  const dir = freshDir();
  const exitFile = join(dir, "exit-code");
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  // The shell prints a line after the dashboard exits: seeing it (and no dashboard) means the alternate screen was left.
  const command = `env FARCASTER_USER=e2e-person ${quote(process.execPath)} ${quote(ENTRY)} tui --db ${quote(path)}; code=$?; echo $code > ${quote(exitFile)}; echo "dashboard exited with $code"; sleep 60`;
  tmux("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", command);

  await screenShows(site.id, "the runs list");
  expect(screen()).toContain("⚑ 1 gate waiting");
  tmux("send-keys", "-t", "tui", "Tab");
  await screenShows("Gates (1)", "the Gates pane");
  await screenShows(REVIEW_GATE, "the pending gate");
  tmux("send-keys", "-t", "tui", "r");
  await screenShows(`Reject gate ${REVIEW_GATE}`, "the reject dialog");
  tmux("send-keys", "-t", "tui", "-l", "not before the links are checked");
  await screenShows("> not before the links are checked", "the typed reason");
  tmux("send-keys", "-t", "tui", "Enter");
  await screenShows(`rejected ${REVIEW_GATE} as e2e-person (tui)`, "the outcome");

  const listed = await farcaster(["gates", "--all", "--json"], { db: path });
  expect(listed.code).toBe(0);
  const gate = (JSON.parse(listed.stdout) as { gates: { id: string }[] }).gates.find((g) => g.id === REVIEW_GATE);
  expect(gate).toMatchObject({ state: "rejected", reason: "not before the links are checked", action: "fail", decidedBy: "e2e-person (tui)" });
  await screenShows("Gates (0)", "the gate gone from the pending list");

  tmux("send-keys", "-t", "tui", "q");
  await until(() => existsSync(exitFile) && readFileSync(exitFile, "utf8").trim() !== "", 10_000, "the dashboard to exit");
  expect(readFileSync(exitFile, "utf8").trim()).toBe("0");
  const after = await screenShows("dashboard exited with 0", "the shell's line after the dashboard");
  expect(after).not.toContain("Gates (0)");
  expect(tmux("display-message", "-p", "-t", "tui", "#{alternate_on}").trim()).toBe("0");
});

test.skipIf(skip)("Ctrl-C quits the dashboard like q: exit 0 and the terminal given back", async () => {
  const { store, path } = freshRealTimeStore();
  const { site } = await seedDashboard(store);
  await store.close();
  const exitFile = join(freshDir(), "exit-code");
  tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", `${process.execPath} ${ENTRY} tui --db ${path} ${site.id}; echo $? > ${exitFile}; echo "dashboard exited"; sleep 60`);
  await screenShows(`Run ${site.id}`, "the run's page");
  tmux("send-keys", "-t", "tui", "C-c");
  await until(() => existsSync(exitFile) && readFileSync(exitFile, "utf8").trim() !== "", 10_000, "the dashboard to exit");
  expect(readFileSync(exitFile, "utf8").trim()).toBe("0");
  await screenShows("dashboard exited", "the shell's line after the dashboard");
  expect(tmux("display-message", "-p", "-t", "tui", "#{alternate_on}").trim()).toBe("0");
});

test("without a terminal `farcaster tui` exits 2 and points at `farcaster status --json`", async () => {
  const result = await farcaster(["tui"]);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain("farcaster tui needs a terminal");
  expect(result.stderr).toContain("farcaster status --json");
});
