/** The liveness rules of `farcaster doctor` (src/view/doctor.ts), fed plain records: one rule per test. */
import { describe, expect, test } from "bun:test";
import { nextSlot } from "../src/engine/cron.ts";
import type { DatabaseInfo, DroneRecord, GateRecord, HeldLease, OpenTaskRecord, ScheduleRecord } from "../src/store/types.ts";
import { confirmFindings, diagnose, type DoctorInput } from "../src/view/doctor.ts";

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const DB: DatabaseInfo = { dialect: "sqlite", path: "/x/f.db", schemaVersion: 5, latestVersion: 5, fileBytes: 1, walBytes: 0, journalMode: "wal", syncMode: "normal" };

function task(key: string, fields: Partial<OpenTaskRecord> = {}): OpenTaskRecord {
  return {
    id: key.charCodeAt(0), runId: "r1", key, workflow: "shell", state: "ready", availableAt: NOW, waitingFor: null, leaseOwner: null,
    leaseExpiresAt: null, updatedAt: NOW, after: [], ...fields,
  };
}

function gate(taskId: number, fields: Partial<GateRecord> = {}): GateRecord {
  return {
    id: `g${taskId}`, runId: "r1", taskId, scheduleId: null, scheduleName: null, taskKey: null, stepKey: "review", question: "Ship?", evidence: null,
    subjectHash: null, askedBy: "w", state: "pending", decidedBy: null, decidedAt: null, reason: null, action: null, timeoutAt: null, onTimeout: "fail",
    overdueAt: null, createdAt: NOW - 300_000, ...fields,
  };
}

function drone(id: string, workflows: string[], fields: Partial<DroneRecord> = {}): DroneRecord {
  return { id, lastHeartbeatAt: NOW - 1_000, attempts: 1, workflows, leases: [], ...fields };
}

/** A lease held now, expiring `leftMs` from NOW. */
function lease(key: string, leftMs: number): HeldLease {
  return { taskId: 100 + key.charCodeAt(0), runId: "r1", key, attemptId: 1, leaseExpiresAt: NOW + leftMs, startedAt: NOW - 60_000, heartbeatAt: NOW - 1_000 };
}

function schedule(name: string, fields: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id: `s-${name}`, name, cron: "*/5 * * * *", timezone: "UTC", targetKind: "goal_text", target: "g", cwd: null, overlap: "skip", catchUp: "latest",
    enabled: true, approvalHash: null, approvedHash: null, lastSlot: null, createdAt: NOW - 60_000, updatedAt: NOW - 60_000, ...fields,
  };
}

function check(fields: Partial<DoctorInput>) {
  return diagnose({
    now: NOW, tasks: [], truncated: false, pendingGates: [], drones: [], droneWindowMs: 600_000, schedules: [],
    nextSlot: (s, after) => nextSlot(s, after), modelTaskIds: new Set(), modelProblem: null, database: DB, graceMs: 10_000, ...fields,
  });
}

describe("doctor: who owns each open task", () => {
  test("a live lease, a fresh ready task, a gate, a timer, an event and a dependency with an owner are all owners: healthy", () => {
    const report = check({
      tasks: [
        task("a", { state: "running", leaseOwner: "h:1:x", leaseExpiresAt: NOW + 20_000 }),
        task("b", { availableAt: NOW - 2_000, updatedAt: NOW - 2_000 }),
        task("c", { state: "waiting", availableAt: null }),
        task("d", { state: "waiting", availableAt: NOW + 60_000 }),
        task("e", { state: "waiting", availableAt: null, waitingFor: "deploy.done", updatedAt: NOW - 90_000 }),
        task("f", { state: "blocked", after: ["a", "c"] }),
      ],
      pendingGates: [gate("c".charCodeAt(0))],
    });
    expect(report.healthy).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report.tasks.map((t) => [t.key, t.owner])).toEqual([["a", "drone"], ["b", "queue"], ["c", "person"], ["d", "timer"], ["e", "event"], ["f", "dependency"]]);
    expect(report.tasks.find((t) => t.key === "c")!.detail).toBe("gate g99, waiting 5m0s for a person");
    expect(report.tasks.find((t) => t.key === "e")!.detail).toContain("event deploy.done, awaited since 1m30s ago");
    expect(report.owners).toEqual({ drone: 1, queue: 1, person: 1, timer: 1, event: 1, dependency: 1 });
  });

  test("ready past the grace with no drone seen is one finding per run, naming the tasks, those waiting behind, and farcaster worker", () => {
    const report = check({
      tasks: [task("a", { availableAt: NOW - 60_000, updatedAt: NOW - 60_000 }), task("b", { availableAt: NOW - 30_000, updatedAt: NOW - 30_000 }), task("c", { state: "blocked", after: ["a"] }), task("d", { state: "blocked", after: ["c"] })],
    });
    expect(report.healthy).toBe(false);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ kind: "no_drone", severity: "ownerless", runId: "r1", subjects: ["a", "b"], blocked: 2 });
    expect(report.findings[0]!.message).toContain("ready since 1m0s ago and no drone seen in the last 10m0s");
    expect(report.findings[0]!.fix).toStartWith("farcaster worker");
    expect(report.tasks.map((t) => t.owner)).toEqual([null, null, null, null]);
  });

  test("ready past the grace while drones that never ran its workflow are seen: the drones may not know it", () => {
    const ready = task("a", { workflow: "report", availableAt: NOW - 60_000, updatedAt: NOW - 60_000 });
    const report = check({ tasks: [ready], drones: [drone("h:1:x", ["shell"])] });
    expect(report.findings.map((f) => [f.kind, f.subjects])).toEqual([["unclaimed", ["a"]]]);
    expect(report.findings[0]!.fix).toContain("--workflows DIR");
    // A busy drone that runs the workflow owns the queue: it claims when a slot frees.
    const busy = check({ tasks: [ready], drones: [drone("h:1:x", ["report"], { leases: [lease("z", 20_000)] })] });
    expect([busy.healthy, busy.tasks[0]!.owner, busy.tasks[0]!.detail]).toEqual([true, "queue", "ready 1m0s ago; busy drones that run report: h:1:x"]);
  });

  test("ready past the grace while every drone that ran its workflow holds nothing: they are probably stopped (an idle drone claims at once)", () => {
    const ready = task("a", { workflow: "report", availableAt: NOW - 60_000, updatedAt: NOW - 60_000 });
    // Idle (no lease), or holding only a lease that already expired: neither is busy.
    const report = check({ tasks: [ready, task("b", { state: "blocked", after: ["a"] })], drones: [drone("pg-drone", ["report"]), drone("h:2:y", ["report"], { leases: [lease("z", -1_000)] })] });
    expect(report.healthy).toBe(false);
    expect(report.findings.map((f) => [f.kind, f.severity, f.subjects, f.blocked])).toEqual([["drones_idle", "ownerless", ["a"], 1]]);
    expect(report.findings[0]!.message).toContain("drones pg-drone, h:2:y ran report but hold nothing and claimed none of these for 1m0s");
    expect(report.findings[0]!.message).toContain("probably stopped");
    expect(report.findings[0]!.fix).toStartWith("farcaster worker");
    expect(report.tasks[0]).toMatchObject({ owner: null, detail: "ready 1m0s ago, while the drones that run report (pg-drone, h:2:y) hold nothing" });
    // Within the grace an idle drone may simply not have claimed yet.
    expect(check({ tasks: [{ ...ready, availableAt: NOW - 2_000, updatedAt: NOW - 2_000 }], drones: [drone("pg-drone", ["report"])] }).healthy).toBe(true);
    // --grace 0: any ready task an idle drone has not claimed is a finding.
    expect(check({ tasks: [{ ...ready, availableAt: NOW - 1, updatedAt: NOW - 1 }], drones: [drone("pg-drone", ["report"])], graceMs: 0 }).findings.map((f) => f.kind)).toEqual(["drones_idle"]);
  });

  test("a lease held by a drone known to be gone has no owner at once, though the lease has time left; one of a dead drone once its first expired lease is past the grace", () => {
    const held = task("a", { state: "running", leaseOwner: "h:9:k", leaseExpiresAt: NOW + 20_000 });
    const goneDrone = drone("h:9:k", ["shell"], { leases: [lease("a", 20_000)] });
    const gone = check({ tasks: [held, task("b", { state: "blocked", after: ["a"] })], lostDrones: [{ drone: goneDrone, liveness: "gone" }] });
    expect(gone.healthy).toBe(false);
    expect(gone.findings.map((f) => [f.kind, f.subjects, f.blocked])).toEqual([["drone_lost", ["a"], 1]]);
    expect(gone.findings[0]!.message).toContain("held by drone h:9:k, whose process is not running (checked on this machine)");
    expect(gone.findings[0]!.fix).toStartWith("farcaster worker");
    expect(gone.tasks[0]).toMatchObject({ owner: null, detail: "drone h:9:k is gone, lease 20s left" });
    // Dead: another of its leases expired 30 s ago (past the grace), so this one, with time left, is not renewed either.
    const deadDrone = drone("h:9:k", ["shell"], { leases: [lease("a", 20_000), lease("z", -30_000)] });
    const dead = check({ tasks: [held], lostDrones: [{ drone: deadDrone, liveness: "dead" }] });
    expect(dead.findings.map((f) => [f.kind, f.subjects])).toEqual([["drone_lost", ["a"]]]);
    expect(dead.findings[0]!.message).toContain("that stopped heartbeating (a lease of its expired 30s ago)");
    // Within the grace of that expiry, a late heartbeat may still come: still the drone's.
    expect(check({ tasks: [held], lostDrones: [{ drone: { ...deadDrone, leases: [lease("a", 20_000), lease("z", -2_000)] }, liveness: "dead" }] }).healthy).toBe(true);
  });

  test("a lease expired past the grace and not reclaimed has no owner; within the grace it is still the drone's", () => {
    const expired = check({ tasks: [task("a", { state: "running", leaseOwner: "h:9:k", leaseExpiresAt: NOW - 20_000 })] });
    expect(expired.findings.map((f) => [f.kind, f.subjects])).toEqual([["lease_expired", ["a"]]]);
    expect(expired.findings[0]!.message).toContain("held by drone h:9:k, whose lease expired 20s ago");
    expect(check({ tasks: [task("a", { state: "running", leaseOwner: "h:9:k", leaseExpiresAt: NOW - 5_000 })] }).healthy).toBe(true);
  });

  test("a gate past its timeout that no drone expired, and an escalated gate that is overdue, are findings with the commands that fix them", () => {
    const waiting = task("a", { state: "waiting", availableAt: null });
    const unswept = check({ tasks: [waiting], pendingGates: [gate(waiting.id, { timeoutAt: NOW - 60_000 })] });
    expect(unswept.findings.map((f) => f.kind)).toEqual(["gate_timeout_unhandled"]);
    expect(unswept.findings[0]!.fix).toContain("farcaster worker");
    const overdue = check({ tasks: [waiting], pendingGates: [gate(waiting.id, { timeoutAt: NOW - 60_000, onTimeout: "escalate", overdueAt: NOW - 59_000 })] });
    expect(overdue.findings.map((f) => f.kind)).toEqual(["gate_overdue"]);
    expect(overdue.findings[0]!.fix).toBe(`farcaster approve g${waiting.id}   or   farcaster reject g${waiting.id} --reason "…"`);
    expect(check({ tasks: [waiting], pendingGates: [gate(waiting.id, { timeoutAt: NOW + 60_000 })] }).healthy).toBe(true);
  });

  test("a timer that ended past the grace and was not woken has no owner, nor has a wait with nothing to wake it", () => {
    expect(check({ tasks: [task("a", { state: "waiting", availableAt: NOW - 30_000 })] }).findings.map((f) => f.kind)).toEqual(["timer_overdue"]);
    expect(check({ tasks: [task("a", { state: "waiting", availableAt: NOW - 30_000, waitingFor: "x" })] }).findings.map((f) => f.kind)).toEqual(["timer_overdue"]);
    expect(check({ tasks: [task("a", { state: "waiting", availableAt: null })] }).findings.map((f) => f.kind)).toEqual(["nothing_to_wake"]);
  });

  test("a blocked task is owned while any open dependency is owned, and ownerless when none is", () => {
    const tasks = [task("a", { availableAt: NOW - 60_000, updatedAt: NOW - 60_000 }), task("b", { state: "running", leaseOwner: "w", leaseExpiresAt: NOW + 5_000 }), task("c", { state: "blocked", after: ["a", "b"] })];
    expect(check({ tasks }).tasks.find((t) => t.key === "c")).toMatchObject({ owner: "dependency", detail: "after b" });
    const noOwner = check({ tasks: [tasks[0]!, { ...tasks[2]!, after: ["a"] }] }).tasks.find((t) => t.key === "c");
    expect(noOwner).toMatchObject({ owner: null, detail: "after a, which have no owner" });
  });

  test("a blocked task whose dependencies are all finished has no owner (nothing will make it ready); on a truncated read it is given the benefit of the doubt", () => {
    const stuck = [task("c", { state: "blocked", after: ["a", "b"] }), task("d", { state: "blocked", after: ["c"] })];
    const report = check({ tasks: stuck });
    expect(report.healthy).toBe(false);
    expect(report.findings.map((f) => [f.kind, f.runId, f.subjects, f.blocked])).toEqual([["blocked_without_cause", "r1", ["c"], 1]]);
    expect(report.findings[0]!.fix).toBe("farcaster cancel r1   then   farcaster resume r1   (resume counts each task's unfinished dependencies again)");
    expect(report.tasks.map((t) => [t.key, t.owner, t.detail])).toEqual([["c", null, "after a, b, which are all finished"], ["d", null, "after c, which have no owner"]]);
    const truncated = check({ tasks: stuck, truncated: true });
    expect([truncated.healthy, truncated.tasks[0]!.owner, truncated.tasks[0]!.detail]).toEqual([true, "dependency", "its dependencies were not read (too many open tasks)"]);
  });
});

describe("doctor: what is not a task", () => {
  test("a schedule slot overdue past the scheduler's minute is no scheduler; one not yet due is fine", () => {
    const overdue = check({ schedules: [schedule("nightly", { createdAt: NOW - 600_000 })], drones: [drone("h:1:x", ["architect"])] });
    expect(overdue.findings.map((f) => [f.kind, f.subjects])).toEqual([["no_scheduler", ["nightly"]]]);
    expect(overdue.findings[0]!.message).toContain("was due at 2026-06-01T11:55:00+00:00");
    expect(overdue.findings[0]!.fix).toStartWith("farcaster serve --workers N");
    // Created a minute ago with its first slot still ahead: nothing can be known yet.
    expect(check({ schedules: [schedule("nightly")], drones: [drone("h:1:x", [])] }).findings).toEqual([]);
    // The due time in the schedule's own zone, as `schedule list` shows it.
    const berlin = check({ schedules: [schedule("nightly", { timezone: "Europe/Berlin", createdAt: NOW - 600_000 })], drones: [drone("h:1:x", [])] });
    expect(berlin.findings[0]!.message).toContain("(*/5 * * * *, Europe/Berlin) was due at 2026-06-01T13:55:00+02:00");
    // Its last slot recorded: the next one is judged from there.
    expect(check({ schedules: [schedule("nightly", { createdAt: NOW - 600_000, lastSlot: NOW - 30_000 })], drones: [drone("h:1:x", [])] }).findings).toEqual([]);
  });

  test("schedules with no drone seen are a warning that does not fail the check", () => {
    const report = check({ schedules: [schedule("nightly")] });
    expect(report.findings.map((f) => [f.kind, f.severity])).toEqual([["schedules_without_drones", "warning"]]);
    expect(report.healthy).toBe(true);
  });

  test("tasks that call a model with no model configured are a finding per run; with a model there is none", () => {
    const tasks = [task("a", { workflow: "agent", availableAt: NOW }), task("b", { availableAt: NOW }), task("@plan", { id: 7, runId: "r2", workflow: "architect" })];
    const problem = "no model is configured here (OPENAI_API_KEY and OPENAI_BASE_URL are unset)";
    const report = check({ tasks, modelTaskIds: new Set([tasks[0]!.id, 7]), modelProblem: problem });
    expect(report.findings.map((f) => [f.kind, f.runId, f.subjects])).toEqual([["no_model", "r1", ["a"]], ["no_model", "r2", ["@plan"]]]);
    expect(report.findings[1]!.message).toContain("(the run still has to be planned)");
    expect(report.findings[0]!.fix).toContain("OPENAI_API_KEY");
    expect(check({ tasks, modelTaskIds: new Set([tasks[0]!.id]), modelProblem: null }).healthy).toBe(true);
  });

  test("no model here is not a finding for a model task under a live lease, and only a warning when its workflow succeeded lately (doctor's shell is not the drones')", () => {
    const problem = "no model is configured here (OPENAI_API_KEY and OPENAI_BASE_URL are unset)";
    const running = task("a", { workflow: "agent", state: "running", leaseOwner: "h:1:x", leaseExpiresAt: NOW + 20_000 });
    const ready = task("b", { workflow: "agent", availableAt: NOW - 1_000, updatedAt: NOW - 1_000 });
    const waiting = task("c", { workflow: "agent", state: "waiting", availableAt: NOW + 60_000 });
    const modelTaskIds = new Set([running.id, ready.id, waiting.id]);
    const busy = drone("h:1:x", ["agent"], { leases: [lease("a", 20_000)] });
    // The running task is left out; the ready one has no evidence of a model anywhere; the waiting one may be fine.
    const unsure = check({ tasks: [running, ready, waiting], modelTaskIds, modelProblem: problem, drones: [busy] });
    expect(unsure.findings.map((f) => [f.kind, f.severity, f.subjects])).toEqual([["no_model", "ownerless", ["b"]], ["no_model", "warning", ["c"]]]);
    expect(unsure.healthy).toBe(false);
    // An attempt of agent succeeded on a drone seen lately (even one since gone): the drones have a model; a warning only.
    const evidence = drone("h:1:x", ["agent"], { leases: [lease("a", 20_000)], succeededWorkflows: ["agent"] });
    for (const seen of [{ drones: [evidence] }, { drones: [busy], lostDrones: [{ drone: { ...evidence, id: "h:2:y", leases: [] }, liveness: "gone" as const }] }]) {
      const sure = check({ tasks: [running, ready, waiting], modelTaskIds, modelProblem: problem, ...seen });
      expect(sure.findings.map((f) => [f.kind, f.severity, f.subjects])).toEqual([["no_model", "warning", ["b", "c"]]]);
      expect(sure.findings[0]!.message).toContain("but agent succeeded on drones seen in the last 10m0s, so the drones likely have a model");
      expect(sure.healthy).toBe(true);
    }
  });

  test("findings are confirmed by a second read: what only one pass found (a gate decided between two reads) is not reported", () => {
    const waiting = task("a", { state: "waiting", availableAt: null });
    // First pass: the task read while it waited, the gates read after the gate was approved.
    const first = check({ tasks: [waiting, task("b", { availableAt: NOW - 60_000, updatedAt: NOW - 60_000 })] });
    expect(first.findings.map((f) => f.kind)).toEqual(["nothing_to_wake", "no_drone"]);
    // Second pass: the task is ready again (within the grace); b is still unclaimed.
    const second = check({ tasks: [task("a", { availableAt: NOW }), task("b", { availableAt: NOW - 60_000, updatedAt: NOW - 60_000 })] });
    const confirmed = confirmFindings(first, second);
    expect(confirmed.findings.map((f) => [f.kind, f.subjects])).toEqual([["no_drone", ["b"]]]);
    expect(confirmed.healthy).toBe(false);
    // Nothing found twice: healthy.
    const gone = confirmFindings(check({ tasks: [waiting] }), check({ tasks: [task("a", { state: "running", leaseOwner: "w", leaseExpiresAt: NOW + 5_000 })] }));
    expect([gone.healthy, gone.findings]).toEqual([true, []]);
    // Something new in the second pass alone is not reported either (the next check confirms it).
    expect(confirmFindings(check({}), check({ tasks: [waiting] })).healthy).toBe(true);
  });

  test("a database at another schema version than the code is a finding", () => {
    expect(check({ database: { ...DB, schemaVersion: 4 } }).findings.map((f) => [f.kind, f.fix])).toEqual([["database", "farcaster worker   (a writer migrates it when it opens it)"]]);
  });
});
