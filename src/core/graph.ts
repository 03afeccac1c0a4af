/** A workplan's DAG as Mermaid or Graphviz DOT text. */
export interface GraphTask {
  id: string;
  title: string;
  after: readonly string[];
  state?: string;
}

export type GraphFormat = "mermaid" | "dot";

function mermaidId(id: string): string {
  return id.replace(/[^A-Za-z0-9_]/g, "_");
}

function quote(text: string): string {
  return text.replace(/"/g, "'");
}

export function renderGraph(tasks: readonly GraphTask[], format: GraphFormat): string {
  if (format === "mermaid") {
    const lines = ["flowchart TD"];
    for (const task of tasks) lines.push(`  ${mermaidId(task.id)}["${quote(task.id)}: ${quote(task.title)}${task.state ? ` (${task.state})` : ""}"]`);
    for (const task of tasks) for (const dep of task.after) lines.push(`  ${mermaidId(dep)} --> ${mermaidId(task.id)}`);
    return lines.join("\n");
  }
  const lines = ["digraph workplan {", "  rankdir=LR;", "  node [shape=box];"];
  for (const task of tasks) lines.push(`  "${quote(task.id)}" [label="${quote(task.id)}\\n${quote(task.title)}${task.state ? `\\n(${task.state})` : ""}"];`);
  for (const task of tasks) for (const dep of task.after) lines.push(`  "${quote(dep)}" -> "${quote(task.id)}";`);
  lines.push("}");
  return lines.join("\n");
}
