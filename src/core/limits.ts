/**
 * Size and depth limits on the JSON that people, models and workflows hand
 * us: workplans, task inputs, event data, gate evidence, step outputs and
 * goal files. One module, so the README, the validator, the API and the
 * engine agree on the numbers.
 *
 * Why depth: JSON.stringify (and anything else that recurses) overflows the
 * stack on data nested some thousands of levels deep, and the RangeError it
 * throws says nothing about which field was wrong. The check here walks the
 * value with an explicit stack, so it cannot overflow itself, and stops at
 * the first container past the limit. Only once the depth is known to be
 * sane is the value stringified to measure its size.
 */
import { FarcasterError } from "./errors.ts";
import { PLANNING_TASK_KEY } from "./states.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

export const LIMITS = Object.freeze({
  /** Containers (objects, arrays) inside one another, counting the outermost. */
  depth: 64,
  /** A Markdown goal file. */
  goalFileBytes: 1 * MiB,
  /** A workplan, and a `.json` plan file: tools write plans of tens of thousands of tasks. */
  workplanBytes: 64 * MiB,
  taskInputBytes: 256 * KiB,
  eventDataBytes: 256 * KiB,
  gateEvidenceBytes: 1 * MiB,
  stepOutputBytes: 4 * MiB,
  /**
   * The planning task's review gate: its evidence is the plan's review, every
   * task in full plus the waves, so it is about the plan's size and a little more.
   */
  planReviewBytes: 128 * MiB,
});

/**
 * What one task's own output and its gates' evidence may hold. The planning
 * task is the exception: its output is the workplan, and its gate shows that
 * plan in full, so both are held to the workplan's limit rather than a step's.
 */
export function taskOutputLimits(taskKey: string): TaskOutputLimits {
  return taskKey === PLANNING_TASK_KEY ? PLANNING_TASK_LIMITS : TASK_LIMITS;
}

type TaskOutputLimits = Readonly<{ outputBytes: number; evidenceBytes: number }>;
// Made once: this is asked on every task's completion.
const TASK_LIMITS: TaskOutputLimits = Object.freeze({ outputBytes: LIMITS.stepOutputBytes, evidenceBytes: LIMITS.gateEvidenceBytes });
const PLANNING_TASK_LIMITS: TaskOutputLimits = Object.freeze({ outputBytes: LIMITS.workplanBytes, evidenceBytes: LIMITS.planReviewBytes });

/** A value over one of LIMITS: `too_large` (HTTP 413) or `too_deep` (HTTP 422). */
export class LimitError extends FarcasterError {
  constructor(code: "too_large" | "too_deep", readonly path: string, problem: string) {
    super(code, `${path}: ${problem}`, { details: [{ path, message: problem }] });
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MB`;
  if (bytes >= KiB) return `${+(bytes / KiB).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

/** True when `value` holds containers nested deeper than `max` levels (or a cycle). Iterative: safe on any depth. */
export function nestedDeeperThan(value: unknown, max: number = LIMITS.depth): boolean {
  return jsonShape(value, max) === "deep";
}

/**
 * What a value is to JSON: "deep" (containers nested deeper than `max`, or a
 * cycle), "plain" (only plain objects, arrays, strings, finite numbers,
 * booleans, null and undefined: JSON.stringify gives it without surprises)
 * or "other" (anything JSON.stringify turns into something else or refuses:
 * a function, a symbol, a BigInt, a number it cannot hold, a Date, a Map, a
 * toJSON of its own). Iterative: safe on any depth.
 */
export function jsonShape(value: unknown, max: number = LIMITS.depth): "deep" | "plain" | "other" {
  let plain = leafIsPlain(value);
  if (value === null || typeof value !== "object") return plain ? "plain" : "other";
  // Two parallel stacks, no object per container: this runs on every step's input and output.
  const nodes: object[] = [value];
  const depths: number[] = [1];
  let depth = 0;
  const take = (child: unknown) => {
    if (child !== null && typeof child === "object") {
      nodes.push(child);
      depths.push(depth + 1);
    } else if (plain && !leafIsPlain(child)) plain = false;
  };
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    depth = depths.pop()!;
    if (depth > max) return "deep";
    if (typeof (node as { toJSON?: unknown }).toJSON === "function") plain = false;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) take(node[i]); // by index, as JSON reads an array (an iterator of its own could hide elements)
    } else {
      const proto = Object.getPrototypeOf(node);
      if (proto !== Object.prototype && proto !== null) plain = false;
      for (const child of Object.values(node)) take(child);
    }
  }
  return plain ? "plain" : "other";
}

function leafIsPlain(value: unknown): boolean {
  const type = typeof value;
  return type === "string" || type === "boolean" || type === "undefined" || type === "object" || (type === "number" && Number.isFinite(value as number));
}

export const NON_FINITE_PROBLEM = "is a number JSON cannot hold (too large, or not a number); write it as a string or a smaller number";

/**
 * The path below `value` of the first number JSON cannot hold (Infinity,
 * NaN: `1e999` parses to Infinity and would be stored as null), "" for
 * `value` itself, or null when there is none. Recursive: call it on a value
 * whose depth was checked (jsonLimitProblem) first.
 */
export function nonFiniteNumberPath(value: unknown): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : "";
  if (value === null || typeof value !== "object") return null;
  for (const [key, child] of Object.entries(value)) {
    const below = nonFiniteNumberPath(child);
    if (below !== null) return `${Array.isArray(value) ? `[${key}]` : `.${key}`}${below}`;
  }
  return null;
}

export function deepMessage(max: number = LIMITS.depth): string {
  return `nested deeper than ${max} levels`;
}

export function largeMessage(bytes: number, max: number): string {
  return `${formatBytes(bytes)} of JSON, over the limit of ${formatBytes(max)}`;
}

/** The problem with `value` as JSON under the limits, or null. */
export function jsonLimitProblem(value: unknown, maxBytes: number, maxDepth: number = LIMITS.depth): { code: "too_large" | "too_deep"; problem: string } | null {
  if (nestedDeeperThan(value, maxDepth)) return { code: "too_deep", problem: deepMessage(maxDepth) };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return null; // not JSON at all (a cycle, a BigInt): the caller's own checks say so
  }
  const bytes = text === undefined ? 0 : Buffer.byteLength(text);
  return bytes > maxBytes ? { code: "too_large", problem: largeMessage(bytes, maxBytes) } : null;
}

/** Throws a LimitError naming `path` when `value` is too deep or too large. */
export function assertJsonWithinLimits(value: unknown, path: string, maxBytes: number, maxDepth: number = LIMITS.depth): void {
  const problem = jsonLimitProblem(value, maxBytes, maxDepth);
  if (problem) throw new LimitError(problem.code, path, problem.problem);
}
