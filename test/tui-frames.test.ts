/**
 * The dashboard drawn by OpenTUI's test renderer (headless, the real
 * renderer and layout), on a real database read through a read-only store,
 * at 80×24 and 120×40: what a person sees, and what their keys record.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createTestRenderer, type TestRendererSetup } from "@opentui/core/testing";
import { Dashboard } from "../src/tui/app.ts";
import { storeDecisions } from "../src/tui/decisions.ts";
import type { Store } from "../src/store/types.ts";
import { farcaster } from "./cli-helpers.ts";
import { REVIEW_GATE, seedDashboard } from "./fixtures/dashboard.ts";
import { freshStore, openTestStore, until } from "./helpers.ts";

interface Opened {
  setup: TestRendererSetup;
  dashboard: Dashboard;
  writer: Store;
  path: string;
  site: { id: string };
}

const open: Opened[] = [];

afterEach(async () => {
  for (const { dashboard, setup } of open.splice(0)) {
    await dashboard.stop();
    await setup.dispose();
  }
});

async function openDashboard(width: number, height: number, options: { runId?: string; color?: boolean } = {}): Promise<Opened> {
  const { store: writer, clock, path } = freshStore();
  const { site } = await seedDashboard(writer, (ms) => clock.advance(ms));
  const reader = openTestStore(path, { readOnly: true, clock });
  const setup = await createTestRenderer({ width, height, exitOnCtrlC: false });
  const dashboard = new Dashboard({
    renderer: setup.renderer,
    store: reader,
    decisions: storeDecisions(() => openTestStore(path, { clock }), "tester (tui)"),
    runId: options.runId === "site" ? site.id : options.runId,
    color: options.color ?? true,
    pollMs: 20,
    now: () => clock.now(),
  });
  const opened = { setup, dashboard, writer, path, site };
  open.push(opened);
  await dashboard.start();
  return opened;
}

/** Renders until the frame satisfies `check`; returns that frame. */
async function frameWhere({ setup }: Opened, check: (frame: string) => boolean, what: string): Promise<string> {
  let frame = "";
  try {
    await until(async () => {
      await setup.renderOnce();
      frame = setup.captureCharFrame();
      return check(frame);
    }, 5_000, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the last frame:\n${frame}`);
  }
  return frame;
}

/** Presses keys one by one; after Esc waits out the parser's escape timeout, so the next key is not read as Alt+key. */
async function press(opened: Opened, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    if (key === "ESCAPE") {
      opened.setup.mockInput.pressEscape();
      await Bun.sleep(40);
    } else opened.setup.mockInput.pressKey(key);
  }
}

const rows = (frame: string) => frame.split("\n");

for (const [width, height] of [[80, 24], [120, 40]] as const) {
  describe(`the dashboard at ${width}×${height}`, () => {
    test("the runs list marks the run waiting for a person, and every row fits the terminal", async () => {
      const d = await openDashboard(width, height);
      const frame = await frameWhere(d, (f) => f.includes(d.site.id), "the runs list");
      expect(rows(frame)).toHaveLength(height + (frame.endsWith("\n") ? 1 : 0));
      expect(rows(frame).every((row) => Bun.stringWidth(row) <= width)).toBe(true);
      expect(frame).toContain("⚑ 1 gate waiting");
      const siteRow = rows(frame).find((row) => row.includes(d.site.id))!;
      expect(siteRow).toContain("⚑");
      expect(siteRow).toContain("running");
      expect(siteRow).toContain("3✓ 1▸ 0○ 1‖ 1✗ 0↷ /7");
      expect(rows(frame).at(-1) || rows(frame).at(-2)).toContain("q quit");
    });

    test("a run with a pending gate shows the gate, with its question and evidence", async () => {
      const d = await openDashboard(width, height, { runId: "site" });
      let frame = await frameWhere(d, (f) => f.includes("review") && f.includes("publish"), "the run's tasks");
      expect(rows(frame).find((row) => row.includes(" review "))).toContain("waiting");
      expect(frame).toMatch(/links\s+running\s+1\/1\s+build-2:777:d1/);
      await press(d, "\t");
      frame = await frameWhere(d, (f) => f.includes(REVIEW_GATE) && f.includes("Publish the site?"), "the run's gates");
      expect(frame).toContain("Gates (1)");
      if (height >= 40) expect(frame).toContain('"brokenLinks": 0'); // the selected gate's evidence under the list
      await press(d, "\r");
      frame = await frameWhere(d, (f) => f.includes(`Gate ${REVIEW_GATE}`), "the gate's page");
      expect(frame).toContain('"preview": "https://preview.example/site"');
      expect(frame).toContain("a approves · r rejects");
    });

    test("r, a reason and Enter record the rejection with that reason through the decision service", async () => {
      const d = await openDashboard(width, height, { runId: "site" });
      await frameWhere(d, (f) => f.includes("publish"), "the run's tasks");
      await press(d, "\t");
      await frameWhere(d, (f) => f.includes(REVIEW_GATE), "the run's gates");
      await press(d, "r");
      await frameWhere(d, (f) => f.includes(`Reject gate ${REVIEW_GATE}`), "the reject dialog");
      await press(d, "\r"); // no reason yet
      await frameWhere(d, (f) => f.includes("a reason is required"), "the reason being asked for");
      await d.setup.mockInput.typeText("the changelog is missing");
      await press(d, "\t");
      await frameWhere(d, (f) => f.includes("> the changelog is missing") && f.includes("[x] retry"), "the typed reason and retry chosen");
      await press(d, "\r");
      const frame = await frameWhere(d, (f) => f.includes(`rejected ${REVIEW_GATE} as tester (tui)`), "the outcome");
      expect(frame).toContain("retry with your feedback");
      const gate = await d.writer.getGate(REVIEW_GATE);
      expect(gate).toMatchObject({ state: "rejected", reason: "the changelog is missing", action: "retry", decidedBy: "tester (tui)" });
      await frameWhere(d, (f) => f.includes("no gate waiting") && !f.includes("Publish the site?"), "the gate gone from the list");
    });

    test("a gate decided from another process disappears from the pending list", async () => {
      const d = await openDashboard(width, height);
      await frameWhere(d, (f) => f.includes(d.site.id), "the runs list");
      await press(d, "\t");
      await frameWhere(d, (f) => f.includes(REVIEW_GATE) && f.includes("Gates (1)"), "the pending gate");
      const approved = await farcaster(["approve", REVIEW_GATE, "--by", "someone-else"], { db: d.path });
      expect(approved.stderr).toBe("");
      expect(approved.code).toBe(0);
      const frame = await frameWhere(d, (f) => f.includes("Gates (0)"), "the gate gone");
      expect(frame).not.toContain(REVIEW_GATE);
      expect(frame).toContain("no gate is waiting for a person");
    });
  });
}

describe("the dashboard, beyond one size", () => {
  test("it follows a resize from 80×24 to 120×40 and back", async () => {
    const d = await openDashboard(80, 24);
    await frameWhere(d, (f) => f.includes(d.site.id), "the runs list");
    d.setup.resize(120, 40);
    let frame = await frameWhere(d, (f) => rows(f).length >= 40 && rows(f)[0]!.length >= 100, "the larger frame");
    expect(rows(frame).every((row) => Bun.stringWidth(row) <= 120)).toBe(true);
    d.setup.resize(80, 24);
    frame = await frameWhere(d, (f) => rows(f)[0]!.length <= 80 && f.includes("q quit"), "the smaller frame");
    expect(rows(frame).every((row) => Bun.stringWidth(row) <= 80)).toBe(true);
  });

  test("a task opens with its attempts and journal, and Tab shows its output", async () => {
    const d = await openDashboard(100, 30, { runId: "site" });
    await frameWhere(d, (f) => f.includes("publish"), "the run's tasks");
    await press(d, "\r"); // the first row: pages
    let frame = await frameWhere(d, (f) => f.includes("Task pages"), "the task's page");
    expect(frame).toContain("attempts (1)");
    expect(frame).toMatch(/#1 succeeded\s+build-1:4242:d1/);
    expect(frame).toContain("journal (1 step)");
    expect(frame).toMatch(/1 command \[step\] completed\s+1\.5s\s+attempt #1/);
    expect(frame).toContain('in  {"command":"make pages"}');
    await press(d, "\t");
    frame = await frameWhere(d, (f) => f.includes("Output of pages"), "the task's output");
    expect(frame).toContain("$ make pages");
    expect(frame).toContain("12 pages built");
    await press(d, "ESCAPE");
    await frameWhere(d, (f) => f.includes(`Run ${d.site.id}`), "back at the run");
  });

  test("an unexpected error while drawing ends the dashboard with that error, so the terminal can be given back", async () => {
    const { store: writer, path } = freshStore();
    const { site } = await seedDashboard(writer);
    const reader = openTestStore(path, { readOnly: true });
    // A store that answers with something the view cannot draw (a bug somewhere): no gates array.
    const broken = new Proxy(reader, {
      get(target, name) {
        if (name === "readRunSummary") return async (runId: string) => ({ ...(await target.readRunSummary(runId)), gates: null });
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const setup = await createTestRenderer({ width: 80, height: 24, exitOnCtrlC: false });
    const dashboard = new Dashboard({ renderer: setup.renderer, store: broken, decisions: storeDecisions(() => writer, "t"), runId: site.id, color: false, pollMs: 20 });
    open.push({ setup, dashboard, writer, path, site });
    await dashboard.start();
    await dashboard.finished;
    expect(dashboard.error).toBeInstanceOf(TypeError);
  });

  test("c asks, and y cancels the selected run through the store", async () => {
    const d = await openDashboard(80, 24);
    await frameWhere(d, (f) => f.includes(d.site.id), "the runs list");
    await press(d, "c");
    await frameWhere(d, (f) => f.includes(`Cancel run ${d.site.id}?`), "the question");
    await press(d, "y");
    await frameWhere(d, (f) => f.includes(`run ${d.site.id} is cancelled`), "the outcome");
    expect((await d.writer.getRun(d.site.id)).state).toBe("cancelled");
  });

  test("the drones pane shows each drone's host, pid and leases, and ? lists the keys", async () => {
    const d = await openDashboard(120, 40);
    await frameWhere(d, (f) => f.includes(d.site.id), "the runs list");
    await press(d, "\t", "\t");
    const frame = await frameWhere(d, (f) => f.includes("Drones (2)"), "the drones");
    expect(frame).toMatch(/build-2:777:d1\s+build-2\s+777\s+1/);
    expect(frame).toMatch(/links \d/);
    await press(d, "?");
    const help = await frameWhere(d, (f) => f.includes("Keys") && f.includes("Tab: retry or fail"), "the keys");
    expect(help).toContain("cancel the selected run");
  });

  test("text is in the terminal's own colours, a state's colour from its palette; without colour (NO_COLOR) only attributes remain", async () => {
    const intents = (d: Opened) => {
      const spans = d.setup.captureSpans().lines.flatMap((line) => line.spans).filter((span) => span.text.trim() !== "" && !/^[─│┌┐└┘]+$/.test(span.text.trim()));
      return new Set(spans.map((span) => `${span.fg.intent}/${span.bg.intent}`));
    };
    const coloured = await openDashboard(80, 24, { runId: "site" });
    await frameWhere(coloured, (f) => f.includes("publish"), "the run's tasks");
    expect([...intents(coloured)].some((pair) => pair.includes("indexed"))).toBe(true);
    expect([...intents(coloured)].every((pair) => !pair.startsWith("rgb"))).toBe(true); // never OpenTUI's own white
    const plain = await openDashboard(80, 24, { color: false, runId: "site" });
    await frameWhere(plain, (f) => f.includes("publish"), "the run's tasks");
    expect([...intents(plain)].every((pair) => pair.startsWith("default/") && !pair.includes("indexed"))).toBe(true);
    const inverse = plain.setup.captureSpans().lines.flatMap((line) => line.spans).filter((span) => span.attributes & 32);
    expect(inverse.map((span) => span.text).join("")).toContain("pages"); // the selected row, in reverse video
  });
});
