/**
 * `farcaster worker`: a drone process. Ctrl-C (or SIGTERM) stops claiming,
 * lets running tasks finish for the grace period and releases the rest; a
 * second signal exits at once (leases then expire and are reclaimed).
 */
import { UsageError } from "../../core/errors.ts";
import { Drone, type DroneEvent } from "../../engine/drone.ts";
import { DEFAULT_PG_LANE_SLOTS, DEFAULT_PG_LANES } from "../../store/postgres/store.ts";
import { CLIENT_NICENESS } from "../../store/sqlite/shared/store.ts";
import { DEFAULT_SQLITE_SLOTS } from "../../store/sqlite/store.ts";
import { commandWorkflows, durationOption, intOption, openCommandStore } from "../args.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";
import { paint, type Output } from "../output.ts";
import { describeSharing, sharingOf } from "../sharing.ts";

/** Shorter leases expire between heartbeats (every third of the lease): every task would crash its drone until it failed for good. */
const MIN_LEASE = { ms: 1_000, text: "1s", why: "its heartbeat runs every third of it, and a shorter lease expires before the drone can renew it" };

function printEvent(output: Output, event: DroneEvent): void {
  if (event.type === "error") {
    output.err(`drone: ${event.message}`);
    return;
  }
  const label = `${event.task.runId}/${event.task.key}`;
  if (event.type === "claimed") {
    output.out(`${paint(output, "cyan", "start")}  ${label} (${event.task.workflow}, attempt ${event.task.attempt})`);
    return;
  }
  const { outcome, error } = event.result;
  const style = outcome === "succeeded" ? "green" : outcome === "failed" ? "red" : "yellow";
  const detail = error ? `: ${error.split("\n")[0]}` : "";
  output.out(`${paint(output, style, outcome.padEnd(9))} ${label} in ${Math.round(event.ms)}ms${detail}`);
}

export const workerCommand: Command = {
  name: "worker",
  summary: "run a drone: claim ready tasks and run them until stopped",
  usage: "worker [--concurrency N]",
  positionals: [],
  options: {
    ...COMMON_OPTIONS,
    concurrency: { type: "string", short: "c", valueName: "N", description: `tasks run at once (default ${DEFAULT_SQLITE_SLOTS} on SQLite; ${DEFAULT_PG_LANE_SLOTS * DEFAULT_PG_LANES} on PostgreSQL, ${DEFAULT_PG_LANE_SLOTS} in each of its ${DEFAULT_PG_LANES} write lanes; shell commands, agents and planning keep their own lower limits)` },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
    lease: { type: "string", valueName: "DURATION", description: "lease for every task, at least 1s, renewed every third of it (default: each workflow's own, else 30s)" },
    grace: { type: "string", valueName: "DURATION", description: "on Ctrl-C, how long running tasks may finish before release (default 10s)" },
    id: { type: "string", valueName: "NAME", description: "drone id shown in events (default host:pid)" },
    quiet: { type: "boolean", short: "q", description: "print nothing but errors" },
  },
  async run(context) {
    const concurrency = intOption(context, "concurrency", { min: 1, max: 1024 }); // absent: the drone's default, which follows its lanes
    const leaseMs = durationOption(context, "lease", 30_000, { min: MIN_LEASE });
    const graceMs = durationOption(context, "grace", 10_000);
    const output = context.output;
    // Signals are handled from the start: one that arrives while workflows load stops the drone as soon as it exists.
    let drone: Drone | null = null;
    let signals = 0;
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = (signal: string) => {
      signals++;
      const name = drone?.id ?? `${process.pid}`;
      if (signals > 1) {
        output.err(`drone ${name}: second ${signal}, exiting now; unfinished leases will expire (output not yet written may be lost)`);
        process.exit(130);
      }
      output.err(`drone ${name}: ${signal}, finishing ${drone?.active ?? 0} running task(s) (up to ${graceMs} ms; again to exit now)`);
      if (drone) drone.stop(graceMs).then(stop);
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));

    const id = stringOption(context, "id");
    if (id !== undefined && id.trim() === "") throw new UsageError("--id needs a name for this drone, such as --id builder-1 (leave it out for host:pid:random)");
    const registry = await commandWorkflows(context);
    // A worker that writes through another process's host yields the CPU to it (CLIENT_NICENESS).
    const store = await openCommandStore(context, "create", { share: true, clientNiceness: CLIENT_NICENESS });
    drone = new Drone({
      store, registry, concurrency, leaseMs,
      forceLease: stringOption(context, "lease") !== undefined,
      id,
      onEvent: (event) => {
        if (!context.values.quiet || event.type === "error") printEvent(output, event);
      },
    });
    if (!context.values.quiet) {
      const lanes = drone.laneCount === 1 ? "" : ` over up to ${drone.laneCount} write lanes (fewer while other drones share the database)`;
      output.out(`drone ${drone.id}: ${drone.concurrency} slots${lanes}, workflows ${registry.names().join(", ")}`);
      output.out(`drone ${drone.id}: ${describeSharing(await sharingOf(store))}`);
    }
    if (signals > 0) await drone.stop(0).then(stop);
    else drone.start();
    await stopped;
    await store.close();
    if (!context.values.quiet) output.out(`drone ${drone.id}: stopped`);
    return 0;
  },
};
