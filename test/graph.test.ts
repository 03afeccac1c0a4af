/**
 * `farcaster graph`: Mermaid that Mermaid's own parser accepts for every legal
 * task id (test/fixtures/mermaidParse.ts runs mermaid's parser, with
 * happy-dom as the DOM its sanitizer needs), DOT that Graphviz itself
 * (@hpcc-js/wasm-graphviz) lays out with the labels as written, and JSON.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import { graphOf, renderGraph, STATE_COLOURS, type GraphTask } from "../src/core/graph.ts";
import { TASK_STATES, type TaskState } from "../src/core/states.ts";
import { farcaster } from "./cli-helpers.ts";
import { freshStore } from "./helpers.ts";

interface ParsedMermaid {
  error?: string;
  type: string;
  vertices: { id: string; label: string; classes: string[] }[];
  edges: [string, string][];
  classes: Record<string, string[]>;
}

/** What Mermaid's parser understood of `text`. */
async function parseMermaid(text: string): Promise<ParsedMermaid> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "mermaidParse.ts")], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`the Mermaid parser exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as ParsedMermaid;
}

let graphviz: Graphviz;
beforeAll(async () => {
  graphviz = await Graphviz.load();
});

/** The lines of text Graphviz draws for each node, by node name, and the fill of its shape. */
function layoutDot(dot: string): { nodes: Map<string, { lines: string[]; fill: string | null }>; edges: string[] } {
  const svg = graphviz.layout(dot, "svg", "dot");
  const decode = (text: string) =>
    text.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const nodes = new Map<string, { lines: string[]; fill: string | null }>();
  const edges: string[] = [];
  for (const group of svg.matchAll(/<g id="[^"]*" class="(node|edge)">\s*<title>([^<]*)<\/title>([\s\S]*?)<\/g>/g)) {
    const [, kind, title, body] = group;
    if (kind === "edge") edges.push(decode(title!));
    else nodes.set(decode(title!), { lines: [...body!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!)), fill: body!.match(/<(?:path|polygon) fill="([^"]+)"/)?.[1] ?? null });
  }
  return { nodes, edges };
}

/** Ids that are keywords of Mermaid's grammar, or differ only in punctuation, with titles that need escaping. */
const TRICKY: GraphTask[] = [
  { id: "end", title: 'say "hi" & <b>bye</b>', after: [], state: "succeeded" },
  { id: "style", title: "#35; is not an entity here; #quot; neither", after: ["end"], state: "failed" },
  { id: "graph", title: "`starts with a backtick`", after: ["end"], state: "running" },
  { id: "pages-ok", title: "ünïcødé ✓ 日本語 — émoji 🚀", after: ["style"], state: "waiting" },
  { id: "pages_ok", title: "two\nlines\tand a tab", after: ["pages-ok"], state: "ready" },
  { id: "pages.ok", title: "brackets [x] {y} (z) | pipe ; semi", after: ["pages_ok"], state: "blocked" },
  { id: "subgraph", title: "a title ending in \\", after: ["graph"], state: "cancelled" },
  { id: "class", title: "classDef x fill:#f00", after: ["subgraph"], state: "skipped" },
  { id: "click", title: 'style a:"b" c:#d;', after: [] },
  { id: "default", title: "-->", after: ["click"] },
  { id: "0", title: "a digit id", after: ["default"] },
  { id: "A-B.C_D", title: "mixed", after: ["0"] },
];

function expectedLabel(task: GraphTask): string {
  return `${task.id}: ${task.title.replace(/[\n\t]+/g, " ")}${task.state ? ` (${task.state})` : ""}`;
}

describe("Mermaid", () => {
  test("Mermaid's own parser refuses what raw task ids would give: keywords, and ids that merge (the parser is a real check)", async () => {
    expect((await parseMermaid("flowchart TD\n  end --> style\n")).error).toContain("Parse error");
    const merged = await parseMermaid("flowchart TD\n  pages_ok --> pages_ok\n");
    expect(merged.vertices.map((v) => v.id)).toEqual(["pages_ok"]);
  });

  test("every legal task id is a distinct node n1, n2, … whose label is the id and the title as written, and every edge is where the plan put it", async () => {
    const text = renderGraph(TRICKY, "mermaid");
    const parsed = await parseMermaid(text);
    expect(parsed.error).toBeUndefined();
    expect(parsed.type).toBe("flowchart-v2");
    expect(parsed.vertices.map((v) => v.id)).toEqual(TRICKY.map((_, i) => `n${i + 1}`));
    expect(parsed.vertices.map((v) => v.label)).toEqual(TRICKY.map(expectedLabel));
    const keyOf = new Map(parsed.vertices.map((v, i) => [v.id, TRICKY[i]!.id]));
    const edges = parsed.edges.map(([from, to]) => `${keyOf.get(from)} -> ${keyOf.get(to)}`);
    expect(edges).toEqual(TRICKY.flatMap((task) => task.after.map((dep) => `${dep} -> ${task.id}`)));
    expect(edges).not.toContain("pages_ok -> pages_ok");
  });

  test("each state is a class with its colours, and each node carries its state's class", async () => {
    const parsed = await parseMermaid(renderGraph(TRICKY, "mermaid"));
    const used = [...new Set(TRICKY.flatMap((t) => (t.state ? [t.state] : [])))];
    expect(used.toSorted()).toEqual([...TASK_STATES].toSorted());
    for (const state of used) expect(parsed.classes[state]).toEqual([`fill:${STATE_COLOURS[state].fill}`, `stroke:${STATE_COLOURS[state].stroke}`, "color:#000000"]);
    expect(parsed.vertices.map((v) => v.classes)).toEqual(TRICKY.map((t) => (t.state ? [t.state] : [])));
  });

  test("a dependency that is not among the tasks still gets its own node instead of breaking the text", async () => {
    const parsed = await parseMermaid(renderGraph([{ id: "b", title: "B", after: ["end"], state: "blocked" }], "mermaid"));
    expect(parsed.error).toBeUndefined();
    expect(parsed.vertices.map((v) => [v.id, v.label])).toEqual([["n1", "b: B (blocked)"], ["n2", "end"]]);
    expect(parsed.edges).toEqual([["n2", "n1"]]);
  });
});

describe("DOT", () => {
  test("Graphviz draws each label as written: a title ending in a backslash, quotes, \\N, and line breaks", () => {
    const tasks: GraphTask[] = [
      { id: "end", title: "C:\\temp\\", after: [], state: "succeeded" },
      { id: "quotes", title: 'say "hi" \\N \\l', after: ["end"], state: "failed" },
      { id: "pages.ok", title: "two\nlines ünï ✓", after: ["quotes"] },
    ];
    const { nodes, edges } = layoutDot(renderGraph(tasks, "dot"));
    expect([...nodes.keys()]).toEqual(["end", "quotes", "pages.ok"]);
    expect(nodes.get("end")!.lines).toEqual(["end", "C:\\temp\\", "(succeeded)"]);
    expect(nodes.get("quotes")!.lines).toEqual(["quotes", 'say "hi" \\N \\l', "(failed)"]);
    expect(nodes.get("pages.ok")!.lines).toEqual(["pages.ok", "two lines ünï ✓"]);
    expect(edges).toEqual(["end&#45;&gt;quotes", "quotes&#45;&gt;pages.ok"].map((e) => e.replace("&#45;&gt;", "->")));
  });

  test("each node is filled with its state's colour", () => {
    const tasks: GraphTask[] = TASK_STATES.map((state: TaskState, i) => ({ id: `t${i}`, title: state, after: [], state }));
    const { nodes } = layoutDot(renderGraph(tasks, "dot"));
    for (const [i, state] of TASK_STATES.entries()) expect(nodes.get(`t${i}`)!.fill).toBe(STATE_COLOURS[state].fill);
  });
});

describe("farcaster graph", () => {
  async function runWithStates() {
    const { store, path } = freshStore();
    const run = await store.createRun({
      goal: "g",
      tasks: [
        { id: "end", title: "First", workflow: "noop", input: {} },
        { id: "pages-ok", title: "Then", workflow: "noop", input: {}, after: ["end"] },
        { id: "pages_ok", title: "Alone", workflow: "noop", input: {} },
      ],
    });
    const [claimed] = await store.claimTasks("w", 1, 60_000);
    expect(claimed!.key).toBe("end");
    await store.close();
    return { db: path, runId: run.id };
  }

  test("--json gives the run, its nodes with their states and its edges", async () => {
    const { db, runId } = await runWithStates();
    const result = await farcaster(["graph", runId, "--json", "--db", db]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      run: { id: runId, state: "running" },
      nodes: [
        { key: "end", title: "First", state: "running" },
        { key: "pages-ok", title: "Then", state: "blocked" },
        { key: "pages_ok", title: "Alone", state: "ready" },
      ],
      edges: [{ from: "end", to: "pages-ok" }],
    });
    expect(graphOf([])).toEqual({ nodes: [], edges: [] });
  });

  test("the Mermaid it prints parses, coloured by state; --json with --format, an unknown format or run are refused", async () => {
    const { db, runId } = await runWithStates();
    const mermaid = await farcaster(["graph", runId, "--db", db]);
    expect(mermaid.code).toBe(0);
    const parsed = await parseMermaid(mermaid.stdout);
    expect(parsed.vertices.map((v) => [v.label, v.classes])).toEqual([["end: First (running)", ["running"]], ["pages-ok: Then (blocked)", ["blocked"]], ["pages_ok: Alone (ready)", ["ready"]]]);
    expect(mermaid.stdout).not.toContain("\x1b[");
    const both = await farcaster(["graph", runId, "--json", "--format", "dot", "--db", db]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--json and --format are two outputs");
    expect((await farcaster(["graph", runId, "--format", "svg", "--db", db])).code).toBe(2);
    const unknown = await farcaster(["graph", "rnope", "--db", db]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('run "rnope" not found');
  });
});
