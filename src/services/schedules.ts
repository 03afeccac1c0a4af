/**
 * Schedules as people define them: what a schedule runs is checked when it is
 * added (nothing is written for a bad cron, timezone or goal file), and
 * turned into a planning run's input at each fire.
 */
import { resolve } from "node:path";
import { InputError, OutsideGoalRootsError } from "../core/errors.ts";
import type { ValidWorkplan } from "../core/workplan.ts";
import { SCHEDULE_DECISION_TYPES } from "../core/events.ts";
import { planReview } from "../view/planReview.ts";
import { scheduleDecision, zonedTime, type ScheduleDecision } from "../view/schedules.ts";
import { CATCH_UP_POLICIES, SCHEDULE_OVERLAPS } from "../core/states.ts";
import { readPlanFile } from "../architect/goalFile.ts";
import { resolveModelConfig } from "../architect/model.ts";
import { formatIssues, planGoal } from "../architect/planGoal.ts";
import { nextSlot, validateCron } from "../engine/cron.ts";
import type { WorkflowRegistry } from "../engine/registry.ts";
import type { CatchUpPolicy, FireResult, Overlap, ScheduleInput, ScheduleRecord, Store } from "../store/types.ts";
import type { FireInput } from "../engine/scheduler.ts";
import { prepareGoal, prepareGoalText, prepareWorkplan } from "./goals.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;


export interface AddScheduleOptions {
  name: string;
  cron: string;
  timezone?: string;
  overlap?: string;
  catchUp?: string;
  /** Exactly one of: a goal file read at each fire, a workplan file, a goal file frozen into a plan now. */
  goalFile?: string;
  planFile?: string;
  freezeFile?: string;
  goalText?: string;
  cwd?: string;
  actor: string;
  /** When set (the HTTP API: the server's goal roots), files must lie under these directories. */
  roots?: readonly string[];
}

/**
 * A schedule's timing options checked, with their defaults: each mistake is an
 * InputError whose message starts with the field (timezone, cron expression,
 * overlap, catch-up), so the CLI can name its own option instead.
 */
export function checkScheduleTiming(options: Pick<AddScheduleOptions, "cron" | "timezone" | "overlap" | "catchUp">): { timezone: string; overlap: Overlap; catchUp: CatchUpPolicy } {
  const timezone = options.timezone ?? "UTC";
  validateCron({ cron: options.cron, timezone });
  const overlap = (options.overlap ?? "skip") as Overlap;
  if (!SCHEDULE_OVERLAPS.includes(overlap)) throw new InputError(`overlap must be one of ${SCHEDULE_OVERLAPS.join(", ")} (got "${options.overlap}")`);
  const catchUp = (options.catchUp ?? "latest") as CatchUpPolicy;
  if (!CATCH_UP_POLICIES.includes(catchUp)) throw new InputError(`catch-up must be one of ${CATCH_UP_POLICIES.join(", ")} (got "${options.catchUp}")`);
  return { timezone, overlap, catchUp };
}

export async function addSchedule(store: Store, registry: WorkflowRegistry, options: AddScheduleOptions): Promise<ScheduleRecord> {
  if (!NAME.test(options.name)) throw new InputError(`schedule name "${options.name}" is not valid: 1-64 letters, digits, _ . -`);
  const { timezone, overlap, catchUp } = checkScheduleTiming(options);
  const targets = [options.goalFile, options.planFile, options.freezeFile, options.goalText].filter((t) => t !== undefined);
  if (targets.length !== 1) throw new InputError("a schedule runs exactly one of: a goal file, --plan PLAN.json, --freeze GOAL.md (or a goal text)");
  const cwd = options.cwd ?? process.cwd();
  let target: Pick<ScheduleInput, "targetKind" | "target">;
  let approval: ScheduleInput["approval"];
  if (options.goalFile !== undefined) {
    const path = resolve(cwd, options.goalFile);
    await prepareGoal(path, registry, { roots: options.roots }); // refuses a missing, empty or broken file now
    target = { targetKind: "goal_file", target: path };
  } else if (options.planFile !== undefined) {
    const data = await readPlanFile(resolve(cwd, options.planFile), { roots: options.roots });
    target = { targetKind: "workplan", target: JSON.stringify(prepareWorkplan(data, registry, options.planFile).plan!.plan) };
  } else if (options.freezeFile !== undefined) {
    const frozen = await freeze(resolve(cwd, options.freezeFile), registry, options.roots);
    target = { targetKind: "workplan", target: JSON.stringify(frozen.plan.plan) };
    // A frozen plan in which a model wrote commands or agents runs only once a person approved exactly it.
    const review = planReview(frozen.plan.plan, frozen.plan.waves, frozen.writtenBy);
    if (review.risks.length > 0) {
      approval = {
        question: `Approve the frozen plan of schedule ${options.name} (${options.cron}): ${frozen.plan.plan.tasks.length} tasks, with ${review.risks.join(" and ")}? It runs at every fire unseen after this.`,
        evidence: review,
      };
    }
  } else {
    prepareGoalText(options.goalText!, "goal", registry);
    target = { targetKind: "goal_text", target: options.goalText! };
  }
  return store.createSchedule({ name: options.name, cron: options.cron, timezone, overlap, catchUp, cwd, ...target, ...(approval ? { approval } : {}) }, options.actor);
}

/** A goal file's plan, planned now (by the model if the file has none) and reused at every fire. */
async function freeze(path: string, registry: WorkflowRegistry, roots: readonly string[] | undefined): Promise<{ plan: ValidWorkplan; writtenBy: "model" | "goal file" }> {
  const prepared = await prepareGoal(path, registry, { roots });
  if (prepared.plan) return { plan: prepared.plan, writtenBy: "goal file" };
  const config = resolveModelConfig()!;
  const result = await planGoal({ goal: prepared.file.goal, workflows: registry, config, maxRepairs: 2, step: (_n, input, call) => call(input, new AbortController().signal) });
  if (!result.ok) throw new InputError(`the model's plan was still invalid after ${result.calls} attempts:\n${formatIssues(result.issues)}`);
  return { plan: result.plan, writtenBy: "model" };
}

export interface FireOptions {
  /**
   * The goal roots of the server that fires (`serve`, its API): a goal file is read at each fire
   * only if it still lies under them once symlinks are resolved. A symlink under a root that was
   * retargeted after the schedule was added would otherwise let a fire read any file. Without
   * roots (`farcaster schedule run`) the file is read as the local user reads it.
   */
  roots?: readonly string[];
}

/** What a fire creates: the planning run's goal and input, or (with `error`) why it cannot fire. */
export async function fireInput(schedule: ScheduleRecord, registry: WorkflowRegistry, options: FireOptions = {}): Promise<FireInput> {
  try {
    const prepared =
      schedule.targetKind === "goal_file"
        ? await prepareGoal(schedule.target, registry, { roots: options.roots })
        : schedule.targetKind === "goal_text"
          ? prepareGoalText(schedule.target, "goal", registry)
          : prepareWorkplan(JSON.parse(schedule.target), registry, `schedule ${schedule.name}`);
    const goal = prepared.plan?.plan.goal || prepared.file.goal || schedule.name;
    const source = schedule.targetKind === "goal_file" ? schedule.target : `schedule:${schedule.name}`;
    return { goal, planningInput: { goal, source, ...(prepared.plan ? { plan: prepared.plan.plan } : {}), review: "none" } };
  } catch (error) {
    if (error instanceof OutsideGoalRootsError) {
      const roots = options.roots!.map((root) => resolve(root)).join(", ");
      return {
        goal: schedule.name, planningInput: null,
        error: `goal file ${schedule.target} is outside this server's goal roots (${roots}) once symlinks are resolved: the server fires only goal files under them; point the schedule at a file under a root, or start \`farcaster serve --goal-root DIR\``,
      };
    }
    return { goal: schedule.name, planningInput: null, error: (error as Error).message };
  }
}

/** Fires a schedule now, outside its cron (`schedule run`, POST /v1/schedules/:name/run). */
export async function fireNow(store: Store, registry: WorkflowRegistry, name: string, actor: string, options: FireOptions = {}): Promise<{ schedule: ScheduleRecord; result: FireResult }> {
  const schedule = await store.getSchedule(name);
  const result = await store.fireSchedule({ scheduleId: schedule.id, slot: Date.now(), actor, manual: true, ...(await fireInput(schedule, registry, options)) });
  return { schedule, result };
}

/** How many of the coming fire times a schedule is shown with. */
const NEXT_FIRES_SHOWN = 3;

export type ScheduleWithNextFire = ScheduleRecord & {
  /** The instant it fires next (null when paused or never again). */
  nextFireAt: number | null;
  /** The next fire times in the schedule's timezone, with the offset (empty when paused). */
  nextFires: string[];
};

export function withNextFire(schedule: ScheduleRecord, now: number): ScheduleWithNextFire {
  const nextFires: number[] = [];
  if (schedule.enabled) {
    for (let after = now; nextFires.length < NEXT_FIRES_SHOWN; ) {
      const slot = nextSlot({ cron: schedule.cron, timezone: schedule.timezone }, after);
      if (slot === null) break;
      nextFires.push(slot);
      after = slot;
    }
  }
  return { ...schedule, nextFireAt: nextFires[0] ?? null, nextFires: nextFires.map((slot) => zonedTime(slot, schedule.timezone)) };
}

/** A schedule as `schedule list` shows it: its next fires and the scheduler's last decision about it. */
export type ScheduleOverview = ScheduleWithNextFire & { lastDecision: ScheduleDecision | null };

export async function scheduleOverview(store: Store, now: number): Promise<ScheduleOverview[]> {
  const schedules = await store.listSchedules();
  return Promise.all(
    schedules.map(async (schedule) => {
      const [last] = await store.listScheduleEvents(schedule.id, { limit: 1, types: SCHEDULE_DECISION_TYPES });
      return { ...withNextFire(schedule, now), lastDecision: last ? scheduleDecision(last, schedule.timezone) : null };
    }),
  );
}

/** The last `limit` things a schedule did and had done to it, oldest first, in its timezone. */
export async function scheduleLog(store: Store, name: string, limit: number): Promise<{ schedule: ScheduleRecord; decisions: ScheduleDecision[] }> {
  const schedule = await store.getSchedule(name);
  const events = await store.listScheduleEvents(schedule.id, { limit });
  return { schedule, decisions: events.map((event) => scheduleDecision(event, schedule.timezone)) };
}
