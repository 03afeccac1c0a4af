/**
 * The liveness check (`farcaster doctor`): every open task must have an owner
 * of its next action, and what has none is a finding with the command that
 * fixes it. Pure: store reads in, a report out.
 *
 * Owners:
 *   drone       a live lease (running) of a drone not known to be dead or gone
 *   queue       ready within the grace, or past it while a drone that runs its workflow is busy
 *   person      a pending gate, with how long it has waited
 *   timer       a sleep or an event's timeout, with when it ends
 *   event       a named event, with since when it is awaited
 *   dependency  a task it depends on that itself has an owner (or, on a truncated read, one not read)
 *
 * An idle drone leaves no trace in the database (it writes only for the tasks
 * it holds), and neither does a scheduler between fires; so "nobody is
 * there" is judged by what is overdue: a task ready for longer than `grace`
 * that no drone claimed, a lease or a timer past its time that no drone
 * reclaimed or woke, a schedule slot past its time that no scheduler
 * recorded. Those are facts, not guesses, whatever runs or does not. An idle
 * drone claims a ready task within about a second, so a task ready past the
 * grace while every drone that runs its workflow holds nothing means those
 * drones have stopped (killed on another machine, or under `--id`, a drone
 * stays `idle` in `farcaster workers` for the whole window).
 */
import { formatDuration } from "../core/duration.ts";
import { PLANNING_TASK_KEY } from "../core/states.ts";
import type { DatabaseInfo, DroneRecord, GateRecord, OpenTaskRecord, ScheduleRecord } from "../store/types.ts";
import { zonedTime } from "./schedules.ts";

/** How long past due counts as stuck by default: drones wake at once on a change, and at least every second or so anyway. */
export const DEFAULT_GRACE_MS = 10_000;
/** A scheduler looks at least every 30 s; a slot it fires is "on time" within a minute. */
export const SCHEDULER_GRACE_MS = 60_000;
/** The longest list of task keys a finding names. */
const KEYS_SHOWN = 5;

export type OwnerKind = "drone" | "queue" | "person" | "timer" | "event" | "dependency";

export type FindingKind =
  | "no_drone"
  | "unclaimed"
  | "drones_idle"
  | "drone_lost"
  | "blocked_without_cause"
  | "lease_expired"
  | "timer_overdue"
  | "gate_timeout_unhandled"
  | "gate_overdue"
  | "nothing_to_wake"
  | "no_scheduler"
  | "no_model"
  | "schedules_without_drones"
  | "database";

export interface Finding {
  kind: FindingKind;
  /** ownerless: something has no owner (exit 1); warning: nothing is stuck yet, but will be. */
  severity: "ownerless" | "warning";
  runId: string | null;
  /** The task keys (or the schedule or gate) it is about. */
  subjects: string[];
  /** Open tasks that wait behind these (their dependents, transitively). */
  blocked: number;
  message: string;
  /** The command that fixes it. */
  fix: string;
}

export interface OwnerRow {
  runId: string;
  key: string;
  state: OpenTaskRecord["state"];
  owner: OwnerKind | null;
  /** Who or what, in words ("drone h:1:ab, lease 20s left", "gate g1, waiting 5m"). */
  detail: string;
}

export interface DoctorInput {
  now: number;
  /** Only this run (and no schedules). */
  runId?: string;
  tasks: readonly OpenTaskRecord[];
  /** More open tasks exist than were read. */
  truncated: boolean;
  pendingGates: readonly GateRecord[];
  /** Drones seen within `droneWindowMs` and not known to be dead or gone, with their workflows. */
  drones: readonly DroneRecord[];
  /** Drones seen that `farcaster workers` calls dead (a lease of theirs expired) or gone (their process is not running): they own nothing. */
  lostDrones?: readonly LostDrone[];
  droneWindowMs: number;
  /** Enabled schedules (empty for one run). */
  schedules: readonly ScheduleRecord[];
  /** The next slot of a schedule after a time (croner), or null. */
  nextSlot: (schedule: ScheduleRecord, afterMs: number) => number | null;
  /** The open tasks that call a model (by their workflow and input). */
  modelTaskIds: ReadonlySet<number>;
  /** Null when a model is configured here; otherwise why not (unset, or a variable that cannot work). */
  modelProblem: string | null;
  database: DatabaseInfo;
  graceMs?: number;
}

export interface LostDrone {
  drone: DroneRecord;
  liveness: "dead" | "gone";
}

export interface DoctorReport {
  healthy: boolean;
  checkedAt: number;
  runId: string | null;
  database: DatabaseInfo;
  drones: number;
  openTasks: number;
  truncated: boolean;
  owners: Partial<Record<OwnerKind | "none", number>>;
  tasks: OwnerRow[];
  findings: Finding[];
}

const ago = (ms: number) => `${formatDuration(Math.max(0, ms))} ago`;

/**
 * Since when a lost drone owns nothing: a gone one (its process is not
 * running) from now; a dead one from its first lease that expired, judged with
 * the grace like that lease. Null for a dead drone with no expired lease left.
 */
function lostSinceOf(lost: LostDrone, now: number): number | null {
  if (lost.liveness === "gone") return now;
  const expired = lost.drone.leases.map((lease) => lease.leaseExpiresAt).filter((at) => at <= now);
  return expired.length > 0 ? Math.min(...expired) : null;
}

function keyList(keys: readonly string[]): string {
  const shown = keys.slice(0, KEYS_SHOWN).join(", ");
  return keys.length > KEYS_SHOWN ? `${shown} and ${keys.length - KEYS_SHOWN} more` : shown;
}

/** "1 task" / "3 tasks". */
function tasksWord(n: number): string {
  return `${n} task${n === 1 ? "" : "s"}`;
}

export function diagnose(input: DoctorInput): DoctorReport {
  const { now } = input;
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const gateByTask = new Map<number, GateRecord>();
  for (const gate of input.pendingGates) if (gate.taskId !== null) gateByTask.set(gate.taskId, gate);
  const liveDrones = input.drones;
  const runnersOf = (workflow: string) => liveDrones.filter((drone) => drone.workflows?.includes(workflow));
  // Busy: holds a lease not yet expired. Only a busy drone explains a ready task left waiting past the grace.
  const busy = (drone: DroneRecord) => drone.leases.some((lease) => lease.leaseExpiresAt > now);
  const lostById = new Map((input.lostDrones ?? []).map((lost) => [lost.drone.id, lost]));
  const window = formatDuration(input.droneWindowMs);

  // Root causes, grouped so ten thousand ready tasks are one finding: by kind, run and a detail (a workflow, a drone).
  const groups = new Map<string, { kind: FindingKind; runId: string; keys: string[]; taskIds: number[]; since: number; make: (keys: string[], sinceMs: number) => Pick<Finding, "message" | "fix"> }>();
  const addRoot = (kind: FindingKind, task: OpenTaskRecord, detail: string, since: number, make: (keys: string[], sinceMs: number) => Pick<Finding, "message" | "fix">) => {
    const id = `${kind}\u0000${task.runId}\u0000${detail}`;
    const group = groups.get(id) ?? { kind, runId: task.runId, keys: [], taskIds: [], since, make };
    group.keys.push(task.key);
    group.taskIds.push(task.id);
    group.since = Math.min(group.since, since);
    groups.set(id, group);
  };

  const direct = new Map<number, { owner: OwnerKind | null; detail: string }>();
  for (const task of input.tasks) {
    switch (task.state) {
      case "running": {
        const left = (task.leaseExpiresAt ?? now) - now;
        const lost = task.leaseOwner === null ? undefined : lostById.get(task.leaseOwner);
        const lostSince = lost && lostSinceOf(lost, now);
        if (lost && lostSince !== null && left > -grace && (lost.liveness === "gone" || now - lostSince! > grace)) {
          // Its lease has time left, but the drone will not use it: expired-like now, not when the lease runs out.
          const why = lost.liveness === "gone" ? "whose process is not running (checked on this machine)" : `that stopped heartbeating (a lease of its expired ${ago(now - lostSince!)})`;
          direct.set(task.id, { owner: null, detail: `drone ${task.leaseOwner} is ${lost.liveness}, lease ${left >= 0 ? `${formatDuration(left)} left` : `expired ${ago(-left)}`}` });
          addRoot("drone_lost", task, task.leaseOwner!, lostSince!, (keys) => ({
            message: `${tasksWord(keys.length)} (${keyList(keys)}) held by drone ${task.leaseOwner}, ${why}: nothing runs ${keys.length === 1 ? "it" : "them"}, and no drone can reclaim ${keys.length === 1 ? "it" : "them"} before the lease expires`,
            fix: "farcaster worker   (any drone reclaims the leases once they expire; `farcaster workers` shows when)",
          }));
        } else if (left > -grace) {
          direct.set(task.id, { owner: "drone", detail: `drone ${task.leaseOwner}, lease ${left >= 0 ? `${formatDuration(left)} left` : `expired ${ago(-left)}`}` });
        } else {
          direct.set(task.id, { owner: null, detail: `lease of ${task.leaseOwner} expired ${ago(-left)}, not reclaimed` });
          addRoot("lease_expired", task, task.leaseOwner ?? "", task.leaseExpiresAt ?? now, (keys, since) => ({
            message: `${tasksWord(keys.length)} (${keyList(keys)}) held by drone ${task.leaseOwner}, whose lease expired ${ago(now - since)}; no drone has reclaimed ${keys.length === 1 ? "it" : "them"} (the drone is gone, and none claims)`,
            fix: "farcaster worker   (any drone reclaims expired leases on its next claim)",
          }));
        }
        break;
      }
      case "ready": {
        const since = Math.max(task.availableAt ?? task.updatedAt, task.updatedAt);
        if (since > now) {
          direct.set(task.id, { owner: "timer", detail: `retry at ${new Date(since).toISOString()}` });
          break;
        }
        const runners = runnersOf(task.workflow);
        const busyRunners = runners.filter(busy).map((drone) => drone.id);
        if (now - since <= grace) direct.set(task.id, { owner: "queue", detail: `ready ${ago(now - since)}` });
        else if (busyRunners.length > 0) direct.set(task.id, { owner: "queue", detail: `ready ${ago(now - since)}; busy drones that run ${task.workflow}: ${busyRunners.join(", ")}` });
        else if (runners.length > 0) {
          const ids = runners.map((drone) => drone.id);
          direct.set(task.id, { owner: null, detail: `ready ${ago(now - since)}, while the drones that run ${task.workflow} (${ids.join(", ")}) hold nothing` });
          addRoot("drones_idle", task, task.workflow, since, (keys, first) => ({
            message: `${tasksWord(keys.length)} of workflow ${task.workflow} (${keyList(keys)}) ready since ${ago(now - first)}; drones ${ids.join(", ")} ran ${task.workflow} but hold nothing and claimed none of these for ${formatDuration(now - first)} (an idle drone claims within a second or so): probably stopped`,
            fix: "farcaster worker   (and `farcaster workers` to see which drones are really there)",
          }));
        } else if (liveDrones.length === 0) {
          direct.set(task.id, { owner: null, detail: `ready ${ago(now - since)}, no drone seen in ${window}` });
          addRoot("no_drone", task, "", since, (keys, first) => ({
            message: `${tasksWord(keys.length)} (${keyList(keys)}) ready since ${ago(now - first)} and no drone seen in the last ${window}: nothing will run ${keys.length === 1 ? "it" : "them"}`,
            fix: "farcaster worker   (or farcaster serve --workers N)",
          }));
        } else {
          direct.set(task.id, { owner: null, detail: `ready ${ago(now - since)}, no drone seen runs ${task.workflow}` });
          addRoot("unclaimed", task, task.workflow, since, (keys, first) => ({
            message: `${tasksWord(keys.length)} of workflow ${task.workflow} (${keyList(keys)}) ready since ${ago(now - first)}; the drones seen (${liveDrones.map((d) => d.id).join(", ")}) have run none of ${task.workflow} and claimed none of these: they may not know that workflow`,
            fix: `farcaster worker --workflows DIR   (a drone that loads workflow ${task.workflow})`,
          }));
        }
        break;
      }
      case "waiting": {
        const gate = gateByTask.get(task.id);
        if (gate) {
          const waited = now - gate.createdAt;
          if (gate.timeoutAt !== null && gate.overdueAt === null && now - gate.timeoutAt > grace) {
            direct.set(task.id, { owner: null, detail: `gate ${gate.id} passed its timeout ${ago(now - gate.timeoutAt)}, not handled` });
            addRoot("gate_timeout_unhandled", task, gate.id, gate.timeoutAt, () => ({
              message: `gate ${gate.id} ("${gate.question}") passed its timeout ${ago(now - gate.timeoutAt!)} and is still pending: no drone has swept it (a timed-out gate ${gate.onTimeout === "fail" ? "fails its task" : "escalates"})`,
              fix: `farcaster worker   (or decide it: farcaster approve ${gate.id} | farcaster reject ${gate.id} --reason "…")`,
            }));
          } else if (gate.overdueAt !== null) {
            direct.set(task.id, { owner: null, detail: `gate ${gate.id} overdue since ${ago(now - gate.overdueAt)}` });
            addRoot("gate_overdue", task, gate.id, gate.overdueAt, () => ({
              message: `gate ${gate.id} ("${gate.question}") is older than its timeout (overdue since ${ago(now - gate.overdueAt!)}, waiting ${formatDuration(waited)}); it was escalated and waits for a person`,
              fix: `farcaster approve ${gate.id}   or   farcaster reject ${gate.id} --reason "…"`,
            }));
          } else direct.set(task.id, { owner: "person", detail: `gate ${gate.id}, waiting ${formatDuration(waited)} for a person` });
          break;
        }
        if (task.availableAt !== null && now - task.availableAt > grace) {
          direct.set(task.id, { owner: null, detail: `timer ended ${ago(now - task.availableAt)}, not woken` });
          addRoot("timer_overdue", task, "", task.availableAt, (keys, since) => ({
            message: `${tasksWord(keys.length)} (${keyList(keys)}) waiting on a timer (a sleep or an event's timeout) that ended ${ago(now - since)}; no drone has woken ${keys.length === 1 ? "it" : "them"}`,
            fix: "farcaster worker   (drones wake sleepers when they claim)",
          }));
        } else if (task.waitingFor !== null) {
          const until = task.availableAt === null ? "" : `, times out at ${new Date(task.availableAt).toISOString()}`;
          direct.set(task.id, { owner: "event", detail: `event ${task.waitingFor}, awaited since ${ago(now - task.updatedAt)}${until}` });
        } else if (task.availableAt !== null) {
          direct.set(task.id, { owner: "timer", detail: `timer ends at ${new Date(task.availableAt).toISOString()}` });
        } else {
          direct.set(task.id, { owner: null, detail: "waits with no gate, event or timer to wake it" });
          addRoot("nothing_to_wake", task, "", task.updatedAt, (keys) => ({
            message: `${tasksWord(keys.length)} (${keyList(keys)}) waiting with no pending gate, event or timer to wake ${keys.length === 1 ? "it" : "them"}`,
            fix: `farcaster cancel ${task.runId}   then   farcaster resume ${task.runId}`,
          }));
        }
        break;
      }
      case "blocked":
        break; // its owner is that of its dependencies, below
    }
  }

  // Blocked tasks: owned when any open dependency is (it runs as soon as the others are done, and they have owners too).
  const byRunKey = new Map(input.tasks.map((task) => [`${task.runId}\u0000${task.key}`, task]));
  const resolved = new Map<number, { owner: OwnerKind | null; detail: string }>(direct);
  const resolve = (task: OpenTaskRecord, seen: Set<number>): { owner: OwnerKind | null; detail: string } => {
    const known = resolved.get(task.id);
    if (known) return known;
    seen.add(task.id);
    const deps = task.after.map((key) => byRunKey.get(`${task.runId}\u0000${key}`)).filter((dep): dep is OpenTaskRecord => dep !== undefined && !seen.has(dep.id));
    let result: { owner: OwnerKind | null; detail: string };
    if (deps.length === 0 && input.truncated) {
      // Its open dependencies may be among the tasks not read: nothing to judge by.
      result = { owner: "dependency", detail: "its dependencies were not read (too many open tasks)" };
    } else if (deps.length === 0) {
      // Every dependency finished, yet it is still blocked: the completion that should have unblocked it did not.
      result = { owner: null, detail: task.after.length > 0 ? `after ${task.after.join(", ")}, which are all finished` : "blocked with no dependencies" };
      addRoot("blocked_without_cause", task, "", task.updatedAt, (keys) => ({
        message: `${tasksWord(keys.length)} (${keyList(keys)}) blocked although none of ${keys.length === 1 ? "its" : "their"} dependencies is open: nothing will make ${keys.length === 1 ? "it" : "them"} ready`,
        fix: `farcaster cancel ${task.runId}   then   farcaster resume ${task.runId}   (resume counts each task's unfinished dependencies again)`,
      }));
    } else {
      const owned = deps.map((dep) => ({ dep, ...resolve(dep, seen) })).filter((d) => d.owner !== null);
      result = owned.length > 0
        ? { owner: "dependency", detail: `after ${owned.map((d) => d.dep.key).join(", ")}` }
        : { owner: null, detail: `after ${deps.map((d) => d.key).join(", ")}, which have no owner` };
    }
    resolved.set(task.id, result);
    return result;
  };
  for (const task of input.tasks) if (task.state === "blocked") resolve(task, new Set());

  // How many blocked tasks wait behind each root finding.
  const dependents = new Map<number, OpenTaskRecord[]>();
  for (const task of input.tasks) {
    for (const key of task.after) {
      const dep = byRunKey.get(`${task.runId}\u0000${key}`);
      if (!dep) continue;
      const list = dependents.get(dep.id);
      if (list) list.push(task);
      else dependents.set(dep.id, [task]);
    }
  }
  const behind = (ids: readonly number[]): number => {
    const seen = new Set<number>();
    const stack = [...ids];
    while (stack.length > 0) {
      for (const next of dependents.get(stack.pop()!) ?? []) {
        if (next.state === "blocked" && !seen.has(next.id)) {
          seen.add(next.id);
          stack.push(next.id);
        }
      }
    }
    return seen.size;
  };

  const findings: Finding[] = [];
  for (const group of groups.values()) {
    findings.push({ kind: group.kind, severity: "ownerless", runId: group.runId, subjects: group.keys, blocked: behind(group.taskIds), ...group.make(group.keys, group.since) });
  }

  // Tasks that call a model, where no model is configured here. Doctor's shell is not the drones': a
  // task running under a live lease is left out, and a workflow that succeeded lately makes it a warning.
  if (input.modelProblem !== null) {
    const succeeded = new Set<string>();
    for (const drone of [...liveDrones, ...(input.lostDrones ?? []).map((lost) => lost.drone)]) for (const workflow of drone.succeededWorkflows ?? []) succeeded.add(workflow);
    const byRun = new Map<string, { ownerless: OpenTaskRecord[]; warning: OpenTaskRecord[] }>();
    for (const task of input.tasks) {
      if (!input.modelTaskIds.has(task.id) || (task.state === "running" && direct.get(task.id)?.owner === "drone")) continue;
      const sure = (task.state === "ready" || task.state === "blocked") && !succeeded.has(task.workflow);
      const run = byRun.get(task.runId) ?? { ownerless: [], warning: [] };
      (sure ? run.ownerless : run.warning).push(task);
      byRun.set(task.runId, run);
    }
    const fix = "export OPENAI_API_KEY=…   (or OPENAI_BASE_URL=http://localhost:11434/v1 for a local server; FARCASTER_MODEL names the model) where the drones run";
    for (const [runId, run] of byRun) {
      for (const severity of ["ownerless", "warning"] as const) {
        const tasks = run[severity];
        if (tasks.length === 0) continue;
        const keys = tasks.map((t) => t.key);
        const planning = keys.includes(PLANNING_TASK_KEY) ? " (the run still has to be planned)" : "";
        const ran = [...new Set(tasks.map((t) => t.workflow))].filter((w) => succeeded.has(w));
        const hedge = severity === "ownerless" ? "" : ran.length > 0
          ? `; but ${ran.join(", ")} succeeded on drones seen in the last ${window}, so the drones likely have a model (ignore this if so)`
          : "; a drone may have one where it runs (ignore this if so)";
        findings.push({
          kind: "no_model", severity, runId, subjects: keys, blocked: behind(tasks.map((t) => t.id)),
          message: `${tasksWord(keys.length)} (${keyList(keys)}) call a model${planning}, and ${input.modelProblem}${hedge}`,
          fix,
        });
      }
    }
  }

  // Schedules: a slot past its time that no scheduler recorded means none is running.
  for (const schedule of input.schedules) {
    if (!schedule.enabled) continue;
    const due = input.nextSlot(schedule, schedule.lastSlot ?? schedule.createdAt);
    if (due !== null && now - due > SCHEDULER_GRACE_MS) {
      findings.push({
        kind: "no_scheduler", severity: "ownerless", runId: null, subjects: [schedule.name], blocked: 0,
        message: `schedule ${schedule.name} (${schedule.cron}, ${schedule.timezone}) was due at ${zonedTime(due, schedule.timezone)} (${ago(now - due)}) and no scheduler fired, skipped or recorded that slot: no \`farcaster serve\` is running on this database`,
        fix: "farcaster serve --workers N   (the scheduler, with drones for the runs it starts)",
      });
    }
  }
  const enabled = input.schedules.filter((s) => s.enabled);
  if (enabled.length > 0 && liveDrones.length === 0) {
    findings.push({
      kind: "schedules_without_drones", severity: "warning", runId: null, subjects: enabled.map((s) => s.name), blocked: 0,
      message: `${enabled.length} schedule(s) enabled (${keyList(enabled.map((s) => s.name))}) and no drone seen in the last ${window}: their runs start only if a drone is running (an idle drone leaves no trace; ignore this if one is)`,
      fix: "farcaster serve --workers N   or   farcaster worker",
    });
  }

  if (input.database.schemaVersion !== input.database.latestVersion) {
    findings.push({
      kind: "database", severity: "ownerless", runId: null, subjects: [], blocked: 0,
      message: `the database is at schema version ${input.database.schemaVersion}, this code at ${input.database.latestVersion}`,
      fix: input.database.schemaVersion < input.database.latestVersion ? "farcaster worker   (a writer migrates it when it opens it)" : "upgrade farcaster to the version that wrote this database",
    });
  }

  const tasks: OwnerRow[] = input.tasks.map((task) => {
    const owner = resolved.get(task.id) ?? { owner: null, detail: "" };
    return { runId: task.runId, key: task.key, state: task.state, owner: owner.owner, detail: owner.detail };
  });
  const owners: DoctorReport["owners"] = {};
  for (const row of tasks) owners[row.owner ?? "none"] = (owners[row.owner ?? "none"] ?? 0) + 1;
  return {
    healthy: !findings.some((f) => f.severity === "ownerless"),
    checkedAt: now,
    runId: input.runId ?? null,
    database: input.database,
    drones: liveDrones.length,
    openTasks: input.tasks.length,
    truncated: input.truncated,
    owners,
    tasks,
    findings,
  };
}

/**
 * The reads behind one report are several statements, not one snapshot: a
 * gate decided between reading the tasks and reading the gates makes a task
 * look as if nothing will wake it. So a report with findings is read and
 * diagnosed again, and only what both passes found is reported: a finding of
 * the second pass is kept when the first had one of the same kind and run
 * about one of the same subjects (or both are about none).
 */
export function confirmFindings(first: DoctorReport, second: DoctorReport): DoctorReport {
  const seen = (finding: Finding) =>
    first.findings.some((earlier) =>
      earlier.kind === finding.kind && earlier.runId === finding.runId &&
      (finding.subjects.length === 0 ? earlier.subjects.length === 0 : finding.subjects.some((s) => earlier.subjects.includes(s))));
  const findings = second.findings.filter(seen);
  return { ...second, findings, healthy: !findings.some((f) => f.severity === "ownerless") };
}
