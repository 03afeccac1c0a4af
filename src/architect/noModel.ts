/** The message for a goal that needs planning when no model is configured: both ways forward. */
export function noModelMessage(goalPath: string): string {
  return [
    `${goalPath} has no plan in it, and no model is configured to write one.`,
    "Either:",
    "  - give the Architect a model: set OPENAI_API_KEY (and FARCASTER_MODEL to pick one), or OPENAI_BASE_URL",
    "    for an OpenAI-compatible server such as Ollama (http://localhost:11434/v1), vLLM or LM Studio; or",
    "  - write the plan into the goal file: `## <id>: <title>` headings with run:/gate:/after: lines",
    "    (see README, \"Goal files\"), or a ```json block holding a workplan.",
  ].join("\n");
}
