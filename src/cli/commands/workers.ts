/** `farcaster workers`: the drones seen lately, what each holds, its last heartbeat, and whether it looks alive. */
import { formatDuration } from "../../core/duration.ts";
import { workerRows, type WorkerRow } from "../../view/workers.ts";
import { durationOption, withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, type Command } from "../command.ts";
import { paint, table, type Output, type Style } from "../output.ts";
import { localProcessProbe } from "../processProbe.ts";

export const DEFAULT_SEEN_MS = 10 * 60_000;

const LIVENESS_STYLE: Record<WorkerRow["liveness"], Style> = { alive: "green", idle: "dim", late: "yellow", dead: "red", gone: "red" };

function leaseText(leftMs: number): string {
  return leftMs >= 0 ? `${formatDuration(leftMs)} left` : `expired ${formatDuration(-leftMs)} ago, not reclaimed`;
}

function printWorkers(output: Output, rows: WorkerRow[], sinceMs: number): void {
  if (rows.length === 0) {
    output.out(`no drone seen in the last ${formatDuration(sinceMs)}: start one with \`farcaster worker\` (or \`farcaster serve --workers N\`); a drone that has claimed nothing yet leaves no trace`);
    return;
  }
  const plain = [["DRONE", "HOST", "PID", "STATE", "HELD", "HEARTBEAT", "WORKFLOWS"]];
  for (const row of rows) {
    plain.push([row.id, row.host || "-", row.pid || "-", row.liveness, String(row.held), `${formatDuration(row.heartbeatAgoMs)} ago`, row.workflows.join(",") || "-"]);
  }
  const painted = plain.map((cells, i) => (i === 0 ? cells : cells.map((cell, c) => (c === 3 ? paint(output, LIVENESS_STYLE[rows[i - 1]!.liveness], cell) : cell))));
  const lines = table(painted, plain);
  output.out(lines[0]!);
  rows.forEach((row, i) => {
    output.out(lines[i + 1]!);
    for (const lease of row.leases) output.out(`    ${lease.runId}/${lease.key}  lease ${leaseText(lease.leftMs)}`);
  });
}

export const workersCommand: Command = {
  name: "workers",
  summary: "the drones seen lately: host, pid, workflows, the leases they hold, last heartbeat, whether alive",
  usage: "workers [--since 10m] [--json]",
  positionals: [],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    since: { type: "string", valueName: "DURATION", description: "drones that heartbeat within this long (default 10m); those holding a lease always show" },
  },
  async run(context) {
    const sinceMs = durationOption(context, "since", DEFAULT_SEEN_MS);
    return withStore(context, "read", async (store) => {
      const now = Date.now();
      const rows = workerRows(await store.listDrones({ since: now - sinceMs, withWorkflows: true }), now, localProcessProbe);
      if (context.values.json) context.output.json({ sinceMs, drones: rows });
      else printWorkers(context.output, rows, sinceMs);
      return 0;
    });
  },
};
