/**
 * A workplan's DAG as Mermaid or Graphviz DOT text that pastes anywhere.
 *
 * Task ids are never Mermaid ids: `end`, `style` or `graph` are keywords of
 * its grammar, and `pages-ok`, `pages_ok` and `pages.ok` would each need
 * rewriting into one node. Nodes are numbered (n1, n2, … in task order) and
 * the task's id is only ever a quoted label, with every character that
 * means something inside Mermaid's quotes written as an entity code. DOT
 * quotes everything and escapes backslashes, so a title ending in `\` (or
 * holding `\N`, which DOT would expand) shows as written.
 */
import type { TaskState } from "./states.ts";

export interface GraphTask {
  id: string;
  title: string;
  after: readonly string[];
  state?: TaskState;
}

export type GraphFormat = "mermaid" | "dot";

/** How a state is painted, in both formats. */
export const STATE_COLOURS: Readonly<Record<TaskState, { fill: string; stroke: string }>> = Object.freeze({
  blocked: { fill: "#eeeeee", stroke: "#9e9e9e" },
  ready: { fill: "#e3f2fd", stroke: "#1e88e5" },
  running: { fill: "#b2ebf2", stroke: "#00838f" },
  waiting: { fill: "#fff3cd", stroke: "#b8860b" },
  succeeded: { fill: "#d4edda", stroke: "#2e7d32" },
  failed: { fill: "#f8d7da", stroke: "#c62828" },
  cancelled: { fill: "#e0e0e0", stroke: "#616161" },
  skipped: { fill: "#f5f5f5", stroke: "#bdbdbd" },
});

export interface GraphNode {
  /** The task's id in the workplan. */
  key: string;
  title: string;
  state: TaskState | null;
}

export interface GraphEdge {
  /** The task that must succeed first. */
  from: string;
  to: string;
}

/** The DAG as data: `graph --json`. */
export function graphOf(tasks: readonly GraphTask[]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  return {
    nodes: tasks.map((task) => ({ key: task.id, title: task.title, state: task.state ?? null })),
    edges: tasks.flatMap((task) => task.after.map((dep) => ({ from: dep, to: task.id }))),
  };
}

/** One line of text for a label: line breaks and other control characters become spaces. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

/**
 * Text inside Mermaid's `["…"]`: `"` would end it, `#…;` is an entity code,
 * `<`, `>` and `&` are HTML in an HTML label, a leading backtick starts a
 * Markdown string. Each becomes a numeric entity code (`#34;`), which
 * Mermaid shows as the character. So does `:`: before parsing, Mermaid cuts
 * the last `;` off any line where `style` or `classDef` comes before a `:`
 * and a `#` (meant for its own style lines), which would break the entity
 * codes of a title such as `style a:"b"`; with no `:` left, no label line matches.
 */
export function mermaidLabel(text: string): string {
  return oneLine(text).replace(/["#<>&`:]/g, (char) => `#${char.charCodeAt(0)};`);
}

/** Text inside DOT's double quotes: backslash and quote escaped; no DOT escape (\N, \l…) survives. */
export function dotString(text: string): string {
  return oneLine(text).replace(/[\\"]/g, (char) => `\\${char}`);
}

function label(task: GraphTask): string {
  return `${task.id}: ${task.title}${task.state ? ` (${task.state})` : ""}`;
}

/** Every task and every dependency named, in task order (a dependency outside the list still gets a node). */
function nodesInOrder(tasks: readonly GraphTask[]): GraphTask[] {
  const known = new Set(tasks.map((task) => task.id));
  const extra = [...new Set(tasks.flatMap((task) => task.after).filter((dep) => !known.has(dep)))];
  return [...tasks, ...extra.map((id) => ({ id, title: "", after: [] }))];
}

function renderMermaid(tasks: readonly GraphTask[]): string {
  const nodes = nodesInOrder(tasks);
  const idOf = new Map(nodes.map((task, i) => [task.id, `n${i + 1}`]));
  const lines = ["flowchart TD"];
  for (const task of nodes) lines.push(`  ${idOf.get(task.id)}["${mermaidLabel(task.title ? label(task) : task.id)}"]`);
  for (const task of tasks) for (const dep of task.after) lines.push(`  ${idOf.get(dep)} --> ${idOf.get(task.id)}`);
  const states = [...new Set(tasks.flatMap((task) => (task.state ? [task.state] : [])))];
  for (const state of states) {
    const { fill, stroke } = STATE_COLOURS[state];
    lines.push(`  classDef ${state} fill:${fill},stroke:${stroke},color:#000000`);
    lines.push(`  class ${tasks.filter((task) => task.state === state).map((task) => idOf.get(task.id)).join(",")} ${state}`);
  }
  return lines.join("\n");
}

function renderDot(tasks: readonly GraphTask[]): string {
  const lines = ["digraph workplan {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fillcolor="#ffffff"];'];
  for (const task of nodesInOrder(tasks)) {
    const text = task.title ? `${dotString(task.id)}\\n${dotString(task.title)}${task.state ? `\\n(${task.state})` : ""}` : dotString(task.id);
    const colour = task.state ? `, fillcolor="${STATE_COLOURS[task.state].fill}", color="${STATE_COLOURS[task.state].stroke}"` : "";
    lines.push(`  "${dotString(task.id)}" [label="${text}"${colour}];`);
  }
  for (const task of tasks) for (const dep of task.after) lines.push(`  "${dotString(dep)}" -> "${dotString(task.id)}";`);
  lines.push("}");
  return lines.join("\n");
}

export function renderGraph(tasks: readonly GraphTask[], format: GraphFormat): string {
  return format === "mermaid" ? renderMermaid(tasks) : renderDot(tasks);
}
