/**
 * Starting work from a goal file. Everything that can be wrong with the file
 * (missing, empty, a broken plan, no model for a plan-less goal) is found
 * before anything is written. Running the same goal file again while its run
 * is unfinished resumes that run instead of starting a duplicate.
 */
import { resolve } from "node:path";
import { GoalChangedError, InputError, PlanInvalidError } from "../core/errors.ts";
import type { ValidWorkplan } from "../core/workplan.ts";
import { locateIssues, parseGoalText, readGoalFile, type GoalFile } from "../architect/goalFile.ts";
import { resolveModelConfig } from "../architect/model.ts";
import { noModelMessage } from "../architect/noModel.ts";
import type { WorkflowRegistry } from "../engine/registry.ts";
import type { RunRecord, Store } from "../store/types.ts";

export interface GoalRunOptions {
  /** Where the goal came from (a file's absolute path, or a label such as "api"); default: the file's path. */
  source?: string;
  idempotencyKey?: string;
  /** The hash of the request the key came with (core/idempotency.ts). */
  requestHash?: string;
  /** Open a plan gate (a person approves on the terminal, or --yes approves it). */
  review: boolean;
  /** Start a new run even if this goal file has an unfinished one. */
  forceNew?: boolean;
  cwd?: string;
  actor?: string;
  env?: Record<string, string | undefined>;
}

export interface PreparedGoal {
  file: GoalFile;
  /** The plan the file carries, validated; null when a model will plan. */
  plan: ValidWorkplan | null;
}

/**
 * Reads and checks a goal file; throws before anything is written. `roots`
 * (the server's goal roots) confines where the file may be.
 */
export async function prepareGoal(path: string, registry: WorkflowRegistry, options: { env?: Record<string, string | undefined>; roots?: readonly string[] } = {}): Promise<PreparedGoal> {
  return checkGoal(await readGoalFile(path, { roots: options.roots }), registry, options.env ?? process.env);
}

/** Checks a goal given as text (an API trigger); `label` names it in messages. */
export function prepareGoalText(text: string, label: string, registry: WorkflowRegistry, env = process.env): PreparedGoal {
  if (text.trim() === "") throw new InputError(`${label} is empty; give the goal (and, optionally, a plan)`);
  return checkGoal(parseGoalText(text, label), registry, env);
}

/** Checks a workplan given as data. */
export function prepareWorkplan(plan: unknown, registry: WorkflowRegistry, label = "workplan"): PreparedGoal {
  const valid = registry.checkPlan(plan, label);
  return { file: { path: label, goal: valid.plan.goal, plan, planSource: "json-file", taskLines: [], problems: [] }, plan: valid };
}

function checkGoal(file: GoalFile, registry: WorkflowRegistry, env: Record<string, string | undefined>): PreparedGoal {
  const path = file.path;
  if (file.plan === null) {
    if (!resolveModelConfig(env)) throw new InputError(noModelMessage(path));
    return { file, plan: null };
  }
  // Every problem at once: the Markdown format's and the plan's (schema, graph, workflows).
  try {
    const plan = registry.checkPlan(file.plan, path);
    if (file.problems.length > 0) throw new PlanInvalidError(file.problems, path);
    return { file, plan };
  } catch (error) {
    if (error instanceof PlanInvalidError && error.issues !== file.problems) {
      throw new PlanInvalidError([...file.problems, ...locateIssues(file, error.issues)], path);
    }
    throw error;
  }
}

export interface StartedGoal {
  run: RunRecord;
  /** True when an unfinished run of the same goal file was picked up. */
  resumed: boolean;
  /** False when the idempotency key named a run already: this call created nothing. */
  created: boolean;
  prepared: PreparedGoal;
}

/** Creates (or finds the unfinished) run of a prepared goal file. */
export async function startGoalRun(store: Store, prepared: PreparedGoal, options: GoalRunOptions): Promise<StartedGoal> {
  const path = prepared.file.path;
  const source = options.source ?? resolve(options.cwd ?? process.cwd(), path);
  const sourceHash = prepared.file.hash;
  if (!options.forceNew) {
    const [unfinished] = await store.listRuns({ source, unfinished: true, limit: 1 });
    if (unfinished && unfinished.sourceHash && sourceHash && unfinished.sourceHash !== sourceHash) throw new GoalChangedError(path, unfinished.id);
    if (unfinished) return { run: unfinished, resumed: true, created: false, prepared };
  }
  const goal = prepared.plan?.plan.goal || prepared.file.goal || source;
  const { run, created } = await store.createPlanningRunOnce(
    goal,
    {
      goal,
      source,
      ...(prepared.plan ? { plan: prepared.plan.plan } : {}),
      review: options.review ? "gate" : "none",
    },
    { source, sourceHash, cwd: options.cwd ?? process.cwd(), actor: options.actor ?? "cli", idempotencyKey: options.idempotencyKey, requestHash: options.requestHash },
  );
  return { run, resumed: false, created, prepared };
}
