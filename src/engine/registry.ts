/**
 * Finding workflows by name. Built-ins live in the repository's workflows/;
 * users add theirs there, in ./workflows of the directory they run from, or in
 * directories named by --workflows / FARCASTER_WORKFLOWS (separated by ':').
 * Every .ts or .js file's exports that look like a workflow are registered.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { WorkflowLoadError } from "../core/errors.ts";
import type { ValidWorkplan } from "../core/workplan.ts";
import { checkPlan } from "./planCheck.ts";
import type { Workflow, WorkflowCatalog } from "./workflow.ts";

/** Workflows that cannot be tasks of a plan: the Architect plans runs, it is not planned. */
const NOT_PLANNABLE = new Set(["architect"]);

export const BUILTIN_WORKFLOWS_DIR = resolve(import.meta.dir, "..", "..", "workflows");

export class WorkflowRegistry implements WorkflowCatalog {
  private readonly byName = new Map<string, { workflow: Workflow<any, any>; source: string }>();

  register(workflow: Workflow<any, any>, source = "code"): this {
    const existing = this.byName.get(workflow.name);
    if (existing && existing.workflow !== workflow) {
      throw new WorkflowLoadError(`two workflows are named "${workflow.name}": ${existing.source} and ${source}; rename one`);
    }
    this.byName.set(workflow.name, { workflow, source });
    return this;
  }

  get(name: string): Workflow<any, any> | undefined {
    return this.byName.get(name)?.workflow;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The workflows a plan's tasks may name. */
  plannable(): string[] {
    return this.names().filter((name) => !NOT_PLANNABLE.has(name));
  }

  checkPlan(plan: unknown, source?: string): ValidWorkplan {
    return checkPlan(plan, this, source);
  }
}

function looksLikeWorkflow(value: unknown): value is Workflow {
  const candidate = value as Workflow | undefined;
  return (
    typeof candidate === "object" && candidate !== null && typeof candidate.name === "string" &&
    typeof candidate.run === "function" && typeof (candidate.input as { safeParse?: unknown })?.safeParse === "function"
  );
}

/**
 * Why a workflow file did not load, with where: Bun reports a syntax error
 * as a BuildMessage (or an AggregateError of them) whose position has the
 * line and column, which its message leaves out.
 */
function loadFailure(path: string, error: unknown): string {
  const first = (error as { errors?: unknown[] })?.errors?.[0] ?? error;
  const position = (first as { position?: { line?: number; column?: number; lineText?: string } | null })?.position;
  const message = (first as Error)?.message ?? String(error);
  if (!position?.line) return `could not load workflow file ${path}: ${message}`;
  const text = position.lineText?.trim();
  return `could not load workflow file ${path} line ${position.line}, column ${position.column ?? 1}: ${message}${text ? ` (in \`${text.slice(0, 120)}\`)` : ""}`;
}

export async function loadWorkflowDir(registry: WorkflowRegistry, dir: string): Promise<void> {
  if (!existsSync(dir)) throw new WorkflowLoadError(`workflow directory ${dir} does not exist; pass an existing directory to --workflows`);
  if (!statSync(dir).isDirectory()) {
    throw new WorkflowLoadError(`${dir} is a file, not a directory; --workflows (and FARCASTER_WORKFLOWS) take the directory that holds workflow files`);
  }
  for (const file of readdirSync(dir).sort()) {
    if (!/\.(ts|js|mjs)$/.test(file) || /\.(test|d)\.(ts|js)$/.test(file) || file.startsWith("_")) continue;
    const path = join(dir, file);
    let module: Record<string, unknown>;
    try {
      module = await import(path);
    } catch (error) {
      throw new WorkflowLoadError(loadFailure(path, error), error);
    }
    for (const value of new Set(Object.values(module))) if (looksLikeWorkflow(value)) registry.register(value, path);
  }
}

export interface LoadOptions {
  /** Extra directories (--workflows). */
  dirs?: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Built-ins, then ./workflows of the working directory, then configured directories. */
export async function loadWorkflows(options: LoadOptions = {}): Promise<WorkflowRegistry> {
  const registry = new WorkflowRegistry();
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const dirs = [BUILTIN_WORKFLOWS_DIR];
  const local = resolve(cwd, "workflows");
  if (local !== BUILTIN_WORKFLOWS_DIR && existsSync(local)) dirs.push(local);
  for (const dir of [...(env.FARCASTER_WORKFLOWS?.split(delimiter) ?? []), ...(options.dirs ?? [])]) {
    if (dir) dirs.push(resolve(cwd, dir));
  }
  for (const dir of new Set(dirs)) await loadWorkflowDir(registry, dir);
  return registry;
}
