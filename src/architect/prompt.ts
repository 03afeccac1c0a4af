/**
 * The Architect's prompts. The system prompt carries the rules of a good
 * workplan and the workflows the plan may use (with their input JSON
 * Schemas, so the model can fill `input` correctly); the user prompt is the
 * goal; the repair prompt lists what validation found, path by path, so the
 * model can fix its previous answer instead of starting over.
 *
 * Prompts are plain functions of their inputs (no clock, no randomness): the
 * same goal and workflows give the same request, which keeps journaled model
 * calls reproducible and easy to diff.
 */
import { z } from "zod";
import type { PlanIssue } from "../core/errors.ts";
import { WORKPLAN_VERSION } from "../core/workplan.ts";
import type { Workflow } from "../engine/workflow.ts";

export interface WorkflowSummary {
  name: string;
  description?: string;
  /** JSON Schema of the workflow's input (`{}` when it cannot be expressed). */
  inputSchema: unknown;
}

/** What the model needs to know about a workflow: its name, purpose and input shape. */
export function summarizeWorkflow(workflow: Pick<Workflow, "name" | "description" | "input">): WorkflowSummary {
  let inputSchema: unknown = {};
  try {
    // io "input": describe what the plan must write (before defaults and transforms).
    const { $schema: _ignored, ...schema } = z.toJSONSchema(workflow.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    inputSchema = schema;
  } catch {
    // Some zod types (custom refinements, functions) have no JSON Schema; the
    // model then sees no shape, and validation at submit time still checks it.
  }
  const summary: WorkflowSummary = { name: workflow.name, inputSchema };
  if (workflow.description) summary.description = workflow.description;
  return summary;
}

const EXAMPLE = {
  version: WORKPLAN_VERSION,
  goal: "Add a --json flag to the report command",
  tasks: [
    {
      id: "add-flag",
      title: "Add the --json flag",
      description: "Parse --json in src/report.ts and print the report as JSON. Done when `report --json` prints valid JSON.",
      workflow: "agent",
      input: { instructions: "..." },
      scope: { writes: ["src/report.ts"] },
    },
    { id: "test", title: "Run the tests", workflow: "shell", input: { command: "bun test" }, after: ["add-flag"] },
  ],
};

export function plannerSystemPrompt(workflows: readonly WorkflowSummary[]): string {
  const names = workflows.map((w) => w.name);
  const catalog = workflows
    .map((w) => [`### ${w.name}`, w.description ?? "(no description)", "input JSON Schema:", JSON.stringify(w.inputSchema)].join("\n"))
    .join("\n\n");
  return `You are the Architect of Farcaster, a durable task-coordination engine. You turn a goal into a workplan: a DAG of small tasks that workers run in parallel where the dependencies allow.

Answer with the workplan JSON object only, no prose and no Markdown:
{ "version": ${WORKPLAN_VERSION}, "goal": string, "tasks": [ { "id", "title", "description", "workflow", "input", "after", "scope" } ] }

Rules:
1. Keep tasks small: one concern each, something a single worker finishes in one sitting.
2. Make every dependency explicit: list in "after" the ids of the tasks that must succeed first. Tasks without a path between them run in parallel, so do not rely on their order in the list. No cycles.
3. Put acceptance criteria in each task's "description": what must be true when it is done, and how to check it.
4. A task that writes files sets "scope": { "writes": [globs relative to the working directory] }. Two tasks that write the same files must not run in parallel: order them with "after".
5. Task ids are short kebab-case (for example "add-flag", "test-api"), unique within the plan.
6. Use only these workflows: ${names.length ? names.join(", ") : "(none are registered; say so in the goal of a one-task plan)"}.
7. Each task's "input" must match its workflow's input JSON Schema below.
8. Optional fields: "retries" (extra attempts, integer), "timeout" (such as "10m"), "priority" (integer, higher runs first).

Example of the shape (the workflows in it may not be available to you):
${JSON.stringify(EXAMPLE)}

## Workflows

${catalog || "(none)"}`;
}

export function plannerUserPrompt(goal: string, feedback: readonly string[] = []): string {
  const rejected =
    feedback.length === 0
      ? ""
      : `\n\nA person rejected ${feedback.length === 1 ? "an earlier plan" : "earlier plans"} for this goal, saying:\n${feedback.map((reason) => `- ${reason}`).join("\n")}\nWrite a plan that answers ${feedback.length === 1 ? "this" : "every point"}.`;
  return `Goal:\n${goal.trim()}${rejected}\n\nWrite the workplan for this goal as one JSON object.`;
}

/** Follows the model's previous answer: every problem, with the path of the field at fault. */
export function repairPrompt(issues: readonly PlanIssue[]): string {
  const lines = issues.map((issue) => `- ${issue.path || "(whole answer)"}: ${issue.message}`);
  return `Your workplan is not valid (${issues.length} problem${issues.length === 1 ? "" : "s"}):
${lines.join("\n")}

Fix every problem and answer with the complete corrected workplan JSON object only (not a diff, no prose).`;
}
