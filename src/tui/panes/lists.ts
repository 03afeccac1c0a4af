/** The panes that list: runs, gates, drones and events (home and a run share the last three). */
import type { DroneRecord, EventRecord, EventTail, GateRecord, RunRecord, StateCounts } from "../../store/types.ts";
import { droneRows, type LeaseRow } from "../../view/drones.ts";
import { gateReviewLines, gateSubject } from "../../view/gate.ts";
import { describeEvent } from "../../view/run.ts";
import { runRows } from "../../view/runs.ts";
import type { Line } from "../../view/text.ts";
import { ago, clockTime, duration, filterItems, stateCell, tallyCell, type ListPane } from "../pane.ts";
import { matchesFilter, type Route } from "../state.ts";

export function runsPane(runs: readonly RunRecord[], counts: Readonly<Record<string, StateCounts>>, pendingGates: readonly GateRecord[], filter: string, now: number): ListPane {
  const rows = filterItems(runRows(runs, counts, pendingGates, now), filter, (r) => `${r.id} ${r.state} ${r.goal}${r.gatesPending ? " gate waiting" : ""}`, matchesFilter);
  return {
    kind: "list",
    title: "Runs",
    columns: [{ header: "⚑" }, { header: "RUN" }, { header: "STATE" }, { header: "PROGRESS ✓▸○‖✗↷" }, { header: "AGE", align: "right" }, { header: "GOAL", flex: true }],
    items: rows.map((row) => ({ id: row.id, open: { kind: "run", runId: row.id, pane: "tasks" }, runId: row.id })),
    cells: (i) => {
      const row = rows[i]!;
      return [
        row.gatesPending > 0 ? [{ text: "⚑", style: "yellow" }] : " ",
        [{ text: row.id, style: "bold" }],
        row.state === "planning" && row.tally.total === 0 ? [{ text: "planning", style: "dim" }] : stateCell(row.state),
        tallyCell(row.tally),
        duration(row.ageMs),
        row.goal,
      ];
    },
    empty: filter ? "no run matches the filter" : "no runs yet: start one with `farcaster GOAL.md`",
    filterable: true,
    hint: "Enter opens the run · c cancels it · ⚑ a person is awaited",
  };
}

/** Pending gates (all of them, or a run's), with the selected one's question and evidence under the list. */
export function gatesPane(gates: readonly GateRecord[], filter: string, now: number, title = "Gates"): ListPane {
  const rows = filterItems(
    gates.filter((gate) => gate.state === "pending"),
    filter,
    (g) => `${g.id} ${g.runId} ${g.taskKey ?? ""} ${g.question}`,
    matchesFilter,
  );
  return {
    kind: "list",
    title,
    columns: [{ header: "GATE" }, { header: "RUN/TASK", max: 36 }, { header: "WAITING", align: "right" }, { header: "QUESTION", flex: true }],
    items: rows.map((gate) => ({ id: gate.id, gateId: gate.id, open: { kind: "gate", gateId: gate.id } })),
    cells: (i) => {
      const gate = rows[i]!;
      const waited = duration(now - gate.createdAt);
      return [
        [{ text: gate.id, style: "yellow" }],
        `${gateSubject(gate)}`,
        gate.overdueAt ? [{ text: `${waited}!`, style: "red" }] : waited,
        gate.question,
      ];
    },
    preview: (i) => (rows[i] ? gateReviewLines(rows[i]!) : []),
    empty: filter ? "no pending gate matches the filter" : "no gate is waiting for a person",
    filterable: true,
    hint: "a approves · r rejects with a reason · Enter shows the whole review",
  };
}

function leaseCell(lease: LeaseRow): Line {
  const text = lease.warning === "expired" ? `${lease.key} expired ${duration(-lease.leftMs)} ago` : `${lease.key} ${duration(lease.leftMs)}`;
  return [lease.warning === "expired" ? { text: `✗ ${text}`, style: "red" } : lease.warning === "expiring" ? { text: `! ${text}`, style: "yellow" } : { text }];
}

export function dronesPane(drones: readonly DroneRecord[], filter: string, now: number): ListPane {
  const rows = filterItems(droneRows(drones, now), filter, (d) => `${d.id} ${d.leases.map((l) => l.key).join(" ")}`, matchesFilter);
  return {
    kind: "list",
    title: "Drones",
    columns: [{ header: "!" }, { header: "DRONE", max: 40 }, { header: "HOST", max: 20 }, { header: "PID", align: "right" }, { header: "HELD", align: "right" }, { header: "HEARTBEAT", align: "right" }, { header: "LEASES (time left)", flex: true }],
    items: rows.map((row) => {
      const first = row.leases[0];
      return { id: row.id, open: first ? { kind: "task", runId: first.runId, taskId: first.taskId, pane: "journal" } : undefined };
    }),
    cells: (i) => {
      const row = rows[i]!;
      const mark: Line = row.warning === "expired" ? [{ text: "✗", style: "red" }] : row.warning === "expiring" ? [{ text: "!", style: "yellow" }] : [{ text: " " }];
      const leases: Line = row.leases.length === 0 ? [{ text: "idle", style: "dim" }] : row.leases.flatMap((lease, j) => [...(j > 0 ? [{ text: ", " }] : []), ...leaseCell(lease)]);
      return [mark, row.id, row.host || "-", row.pid || "-", String(row.held), ago(row.heartbeatAgoMs), leases];
    },
    empty: filter ? "no drone matches the filter" : "no drone seen in the last 10 minutes: start one with `farcaster worker`",
    filterable: true,
    hint: "Enter opens the first task it holds · ! a heartbeat is overdue · ✗ lease expired, not yet reclaimed",
  };
}

/** What Enter opens from an event: its run (from the whole log), or its task (from a run's own log). */
function eventTarget(event: EventRecord, fromAllRuns: boolean): Route | undefined {
  if (event.runId === null) return undefined;
  if (fromAllRuns) return { kind: "run", runId: event.runId, pane: "tasks" };
  return event.taskId === null ? undefined : { kind: "task", runId: event.runId, taskId: event.taskId, pane: "journal" };
}

/** The tail of the event log, oldest first; the last event is selected until a person moves. */
export function eventsPane(tail: EventTail, filter: string, options: { showRun: boolean; title?: string }): ListPane {
  const keys = new Map(Object.entries(tail.taskKeys).map(([id, key]) => [Number(id), key]));
  const described = tail.events.map((event) => ({ event, text: describeEvent(event, keys) }));
  const rows = filterItems(described, filter, (r) => `${r.event.runId ?? ""} ${r.event.type} ${r.text}`, matchesFilter);
  return {
    kind: "list",
    title: options.title ?? "Events",
    columns: [{ header: "TIME" }, ...(options.showRun ? [{ header: "RUN" }] : []), { header: "EVENT", flex: true }],
    items: rows.map(({ event }) => ({
      id: String(event.id),
      open: eventTarget(event, options.showRun),
    })),
    cells: (i) => {
      const { event, text } = rows[i]!;
      const style = event.type.endsWith("failed") || event.type === "gate.rejected" || event.type === "task.lease_expired" ? "red" : event.type.startsWith("gate.") ? "yellow" : undefined;
      return [[{ text: clockTime(event.at), style: "dim" }], ...(options.showRun ? [event.runId ?? "-"] : []), [style ? { text, style } : { text }]];
    },
    follow: true,
    empty: filter ? "no event matches the filter" : "no events yet",
    filterable: true,
    hint: options.showRun ? "Enter opens the event's run" : "Enter opens the event's task",
  };
}
