/**
 * Budgets: what an agent task may spend. Checked by code before every model
 * turn, never left to the prompt. Exhausting one ends the task with its own
 * outcome (fail reason "exhausted", naming the budget), never as success.
 */
import { NonRetryableError } from "../core/errors.ts";

export interface Budget {
  turns: number;
  inputTokens?: number;
  outputTokens?: number;
  wallTimeMs?: number;
  costUsd?: number;
}

export interface Usage {
  turns: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export const NO_USAGE: Usage = Object.freeze({ turns: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });

export class BudgetExhaustedError extends NonRetryableError {
  constructor(readonly budget: string, readonly limit: number, readonly used: Usage | number) {
    super(`budget exhausted: ${budget} (limit ${limit}, used ${typeof used === "number" ? used : JSON.stringify(used)})`, { code: "budget_exhausted", reason: "exhausted" });
  }
}

/** Prices per million tokens, from FARCASTER_PRICES='{"model": {"input": 0.4, "output": 1.6}}'. */
export function priceOf(model: string, env = process.env): { input: number; output: number } | null {
  if (!env.FARCASTER_PRICES) return null;
  try {
    const table = JSON.parse(env.FARCASTER_PRICES) as Record<string, { input: number; output: number }>;
    return table[model] ?? null;
  } catch {
    throw new NonRetryableError("FARCASTER_PRICES is not valid JSON; e.g. '{\"gpt-4.1-mini\": {\"input\": 0.4, \"output\": 1.6}}' (USD per million tokens)");
  }
}

export function addUsage(usage: Usage, turn: { inputTokens: number; outputTokens: number }, price: { input: number; output: number } | null): Usage {
  const cost = price ? (turn.inputTokens * price.input + turn.outputTokens * price.output) / 1_000_000 : 0;
  return { turns: usage.turns + 1, inputTokens: usage.inputTokens + turn.inputTokens, outputTokens: usage.outputTokens + turn.outputTokens, costUsd: usage.costUsd + cost };
}

/** Throws BudgetExhaustedError when another turn would exceed a budget. */
export function checkBudget(budget: Budget, usage: Usage, elapsedMs: number): void {
  if (usage.turns >= budget.turns) throw new BudgetExhaustedError("turns", budget.turns, usage);
  if (budget.inputTokens !== undefined && usage.inputTokens >= budget.inputTokens) throw new BudgetExhaustedError("input tokens", budget.inputTokens, usage);
  if (budget.outputTokens !== undefined && usage.outputTokens >= budget.outputTokens) throw new BudgetExhaustedError("output tokens", budget.outputTokens, usage);
  if (budget.costUsd !== undefined && usage.costUsd >= budget.costUsd) throw new BudgetExhaustedError("cost (USD)", budget.costUsd, usage);
  if (budget.wallTimeMs !== undefined && elapsedMs >= budget.wallTimeMs) throw new BudgetExhaustedError("wall time (ms)", budget.wallTimeMs, elapsedMs);
}

/** Throws BudgetExhaustedError when the run's agents together have spent a run budget. */
export function checkRunBudget(
  budget: { turns?: number; inputTokens?: number; outputTokens?: number; costUsd?: number },
  used: { turns: number; inputTokens: number; outputTokens: number },
  price: { input: number; output: number } | null,
): void {
  const usage: Usage = { ...used, costUsd: price ? (used.inputTokens * price.input + used.outputTokens * price.output) / 1_000_000 : 0 };
  if (budget.turns !== undefined && used.turns >= budget.turns) throw new BudgetExhaustedError("run turns", budget.turns, usage);
  if (budget.inputTokens !== undefined && used.inputTokens >= budget.inputTokens) throw new BudgetExhaustedError("run input tokens", budget.inputTokens, usage);
  if (budget.outputTokens !== undefined && used.outputTokens >= budget.outputTokens) throw new BudgetExhaustedError("run output tokens", budget.outputTokens, usage);
  if (budget.costUsd !== undefined && usage.costUsd >= budget.costUsd) throw new BudgetExhaustedError("run cost (USD)", budget.costUsd, usage);
}
