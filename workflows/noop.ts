/** `noop`: does nothing and returns its input. For smoke tests, benchmarks and placeholders. */
import { z } from "zod";
import { defineWorkflow } from "../src/engine/workflow.ts";

export default defineWorkflow({
  name: "noop",
  description: "does nothing; returns its input",
  input: z.unknown(),
  async run(_ctx, input) {
    return input ?? null;
  },
});
