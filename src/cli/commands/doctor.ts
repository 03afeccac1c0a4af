/**
 * `farcaster doctor [RUN]`: does every open task have an owner of its next
 * action? Reads the store, asks src/view/doctor.ts, prints each finding with
 * the command that fixes it. Exit 0 when healthy, 1 when something has no
 * owner (or the database cannot be reached).
 */
import { resolveModelConfig } from "../../architect/model.ts";
import { formatDuration } from "../../core/duration.ts";
import { StoreUnreachableError } from "../../core/errors.ts";
import { nextSlot } from "../../engine/cron.ts";
import type { WorkflowRegistry } from "../../engine/registry.ts";
import type { DatabaseInfo, DroneRecord, OpenTaskRecord, Store } from "../../store/types.ts";
import { confirmFindings, DEFAULT_GRACE_MS, diagnose, type DoctorReport, type Finding, type LostDrone } from "../../view/doctor.ts";
import { workerRows } from "../../view/workers.ts";
import { commandWorkflows, durationOption, openCommandStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";
import { paint, table, type Output } from "../output.ts";
import { localProcessProbe } from "../processProbe.ts";
import { DEFAULT_SEEN_MS } from "./workers.ts";

/** Open tasks read at most; beyond, the report says it saw only these. */
const MAX_OPEN_TASKS = 10_000;
/** Tasks whose input is read to tell whether they call a model (a workflow that decides by input). */
const MAX_INPUT_READS = 500;

/** The open tasks that call a model: by their workflow's `usesModel`, which may look at the input. */
async function modelTaskIds(store: Store, registry: WorkflowRegistry, tasks: readonly OpenTaskRecord[]): Promise<Set<number>> {
  const ids = new Set<number>();
  let reads = 0;
  for (const task of tasks) {
    const uses = registry.get(task.workflow)?.usesModel;
    if (uses === true) ids.add(task.id);
    else if (typeof uses === "function" && reads++ < MAX_INPUT_READS) {
      try {
        if (uses((await store.getTask(task.id)).input)) ids.add(task.id);
      } catch {
        // An input the workflow cannot read is the drone's error to report, not a model question.
      }
    }
  }
  return ids;
}

function modelProblem(): string | null {
  try {
    return resolveModelConfig() ? null : "no model is configured here (OPENAI_API_KEY and OPENAI_BASE_URL are unset)";
  } catch (error) {
    return `the model configuration cannot work: ${(error as Error).message}`;
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function databaseLine(info: DatabaseInfo): string {
  return info.dialect === "sqlite"
    ? `database   sqlite ${info.path}  schema ${info.schemaVersion}/${info.latestVersion}  file ${bytes(info.fileBytes)}  wal ${bytes(info.walBytes)}  journal ${info.journalMode}  sync ${info.syncMode}`
    : `database   postgres ${info.target} (schema ${info.schema})  reachable  server ${info.serverVersion}  schema ${info.schemaVersion}/${info.latestVersion}`;
}

function printFinding(output: Output, finding: Finding): void {
  const mark = finding.severity === "ownerless" ? paint(output, "red", "✗") : paint(output, "yellow", "!");
  const where = finding.runId ? `run ${finding.runId}: ` : "";
  const blocked = finding.blocked > 0 ? ` (${finding.blocked} more task(s) wait behind)` : "";
  output.out(`${mark} ${finding.kind}  ${where}${finding.message}${blocked}`);
  output.out(`    fix: ${finding.fix}`);
}

function printReport(output: Output, report: DoctorReport, windowMs: number, seen: number): void {
  output.out(databaseLine(report.database));
  const dead = seen - report.drones;
  output.out(`drones     ${report.drones} seen in the last ${formatDuration(windowMs)}${dead > 0 ? `, and ${dead} dead or gone` : ""} (\`farcaster workers\`)`);
  const owners = Object.entries(report.owners).map(([owner, n]) => `${n} ${owner}`).join(" · ");
  output.out(`open tasks ${report.openTasks}${report.truncated ? "+ (only the first were read)" : ""}${owners ? `: owners ${owners}` : ""}`);
  if (report.runId !== null && report.tasks.length > 0) {
    const plain = [["TASK", "STATE", "OWNER", "DETAIL"], ...report.tasks.map((t) => [t.key, t.state, t.owner ?? "NONE", t.detail])];
    for (const line of table(plain)) output.out("  " + line);
  }
  for (const finding of report.findings) printFinding(output, finding);
  const problems = report.findings.filter((f) => f.severity === "ownerless").length;
  output.out(report.healthy ? paint(output, "green", "healthy: every open task has an owner of its next action") : paint(output, "red", `${problems} problem(s): something has no owner (see the fixes above)`));
}

/** One pass: the store's reads, then the rules; `seen` counts the drones seen, dead or gone ones included. */
async function readAndDiagnose(
  store: Store,
  registry: WorkflowRegistry,
  options: { runId?: string; windowMs: number; graceMs: number; modelProblem: string | null },
): Promise<{ report: DoctorReport; seen: number }> {
  const { runId, windowMs } = options;
  const now = Date.now();
  const read = await store.listOpenTasks({ runId, limit: MAX_OPEN_TASKS + 1 });
  const tasks = read.slice(0, MAX_OPEN_TASKS);
  // A drone that is known dead (its lease expired) or gone (its process is not running) owns nothing.
  const seen = await store.listDrones({ since: now - windowMs, withWorkflows: true });
  const rows = workerRows(seen, now, localProcessProbe);
  const drones: DroneRecord[] = [];
  const lostDrones: LostDrone[] = [];
  seen.forEach((drone, i) => {
    const liveness = rows[i]!.liveness;
    if (liveness === "dead" || liveness === "gone") lostDrones.push({ drone, liveness });
    else drones.push(drone);
  });
  const report = diagnose({
    now,
    runId,
    tasks,
    truncated: read.length > MAX_OPEN_TASKS,
    pendingGates: await store.listGates({ runId, pendingOnly: true }),
    drones,
    lostDrones,
    droneWindowMs: windowMs,
    schedules: runId ? [] : await store.listSchedules({ enabledOnly: true }),
    nextSlot: (schedule, after) => nextSlot(schedule, after),
    modelTaskIds: await modelTaskIds(store, registry, tasks),
    modelProblem: options.modelProblem,
    database: await store.describeDatabase(),
    graceMs: options.graceMs,
  });
  return { report, seen: seen.length };
}

export const doctorCommand: Command = {
  name: "doctor",
  summary: "check that every open task has an owner of its next action (drone, person, timer, event); exit 1 if not",
  usage: "doctor [RUN] [--json] [--grace 10s]",
  positionals: [{ name: "RUN", what: "a run id", optional: true, hint: "list runs with `farcaster status`" }],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    grace: { type: "string", valueName: "DURATION", description: `how long past due counts as stuck (default ${formatDuration(DEFAULT_GRACE_MS)})` },
    since: { type: "string", valueName: "DURATION", description: "drones count as seen when they heartbeat within this long (default 10m)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS), to know which call a model" },
  },
  async run(context) {
    const graceMs = durationOption(context, "grace", DEFAULT_GRACE_MS, { allowZero: true });
    const windowMs = durationOption(context, "since", DEFAULT_SEEN_MS);
    const runId = context.positionals[0];
    let store: Store;
    try {
      // No database is not "healthy": like every reader, doctor says where it looked and exits 1.
      store = await openCommandStore(context, "read");
    } catch (error) {
      if (!(error instanceof StoreUnreachableError)) throw error;
      const finding = { kind: "database", severity: "ownerless", runId: null, subjects: [], blocked: 0, message: error.message, fix: "start the database server, or fix --db / FARCASTER_DB" };
      if (context.values.json) context.output.json({ healthy: false, database: null, findings: [finding] });
      else printFinding(context.output, finding as Finding);
      return 1;
    }
    try {
      const registry = await commandWorkflows(context);
      if (runId) await store.getRun(runId);
      const problem = modelProblem();
      const check = () => readAndDiagnose(store, registry, { runId, windowMs, graceMs, modelProblem: problem });
      const first = await check();
      // Findings from reads that are not one snapshot could be a change caught halfway: confirm them once.
      const { report, seen } = first.report.healthy ? first : await check().then((second) => ({ ...second, report: confirmFindings(first.report, second.report) }));
      if (context.values.json) context.output.json(report);
      else printReport(context.output, report, windowMs, seen);
      return report.healthy ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};
