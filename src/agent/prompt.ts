/** What an agent is told: its task, its limits, what the tasks before it produced, and any feedback. */
import type { TaskInfo } from "../engine/workflow.ts";

const MAX_DEPS_CHARS = 12_000;

export function agentSystemPrompt(task: TaskInfo): string {
  const writes = task.scope?.writes.length ? task.scope.writes.join(", ") : "nothing (this task may not write files)";
  const commands = task.scope?.commands.length ? task.scope.commands.join(", ") : "none without a person's approval";
  return [
    "You are a worker drone in Farcaster, doing one task of a larger plan. Work only through the tools.",
    `Workspace: ${task.cwd} (paths are relative to it).`,
    `You may write: ${writes}. Writes elsewhere are refused by the tool, not by you: do not try to get around a refusal.`,
    `Commands you may run: ${commands}. Any other command waits for a person, who may refuse it.`,
    "Read before you change anything. Keep changes small and to the point of the task.",
    "When the task is done (or cannot be done), call `finish` with a short summary and the output the task asks for.",
  ].join("\n");
}

export function agentTaskPrompt(task: TaskInfo, instructions: string, deps: Readonly<Record<string, unknown>>, feedback: readonly string[], output?: string): string {
  const parts = [`Task ${task.key}: ${task.title}`];
  if (task.description) parts.push(`Acceptance criteria and details:\n${task.description}`);
  parts.push(`Instructions:\n${instructions}`);
  if (output) parts.push(`The \`output\` of finish must be: ${output}`);
  const depsText = JSON.stringify(deps, null, 2);
  if (Object.keys(deps).length > 0) {
    parts.push(`What the tasks before this one produced:\n${depsText.length > MAX_DEPS_CHARS ? depsText.slice(0, MAX_DEPS_CHARS) + "\n… (truncated)" : depsText}`);
  }
  if (feedback.length > 0) parts.push(`A person rejected an earlier attempt of this task. Act on this feedback:\n${feedback.map((f) => `- ${f}`).join("\n")}`);
  return parts.join("\n\n");
}
