/**
 * `farcaster worker`: a drone process. Ctrl-C (or SIGTERM) stops claiming,
 * lets running tasks finish for the grace period and releases the rest; a
 * second signal exits at once (leases then expire and are reclaimed).
 */
import { parseDuration } from "../../core/duration.ts";
import { UsageError } from "../../core/errors.ts";
import { Drone, type DroneEvent } from "../../engine/drone.ts";
import { loadWorkflows } from "../../engine/registry.ts";
import { openStore } from "../../store/index.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";
import { paint, type Output } from "../output.ts";

function durationOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} must be a duration such as 500ms, 30s or 2m (got "${value}")`);
  return ms;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

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
  options: {
    ...COMMON_OPTIONS,
    concurrency: { type: "string", short: "c", valueName: "N", description: "tasks run at once (default 4)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
    lease: { type: "string", valueName: "DURATION", description: "lease for every task, renewed every third of it (default: each workflow's own, else 30s)" },
    grace: { type: "string", valueName: "DURATION", description: "on Ctrl-C, how long running tasks may finish before release (default 10s)" },
    id: { type: "string", valueName: "NAME", description: "drone id shown in events (default host:pid)" },
    quiet: { type: "boolean", short: "q", description: "print nothing but errors" },
  },
  async run(context) {
    const concurrency = positiveInt(stringOption(context, "concurrency"), "concurrency", 4);
    const leaseMs = durationOption(stringOption(context, "lease"), "lease", 30_000);
    const graceMs = durationOption(stringOption(context, "grace"), "grace", 10_000);
    const registry = await loadWorkflows({ dirs: [stringOption(context, "workflows") ?? ""] });
    const store = openStore({ db: stringOption(context, "db") });
    const output = context.output;
    const drone = new Drone({
      store, registry, concurrency, leaseMs,
      forceLease: stringOption(context, "lease") !== undefined,
      id: stringOption(context, "id"),
      onEvent: (event) => {
        if (!context.values.quiet || event.type === "error") printEvent(output, event);
      },
    });
    if (!context.values.quiet) output.out(`drone ${drone.id}: ${concurrency} slots, workflows ${registry.names().join(", ")}`);
    drone.start();

    const stopped = new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (signal: string) => {
        signals++;
        if (signals > 1) {
          output.err(`drone ${drone.id}: second ${signal}, exiting now; unfinished leases will expire`);
          process.exit(130);
        }
        output.err(`drone ${drone.id}: ${signal}, finishing ${drone.active} running task(s) (up to ${graceMs} ms; again to exit now)`);
        drone.stop(graceMs).then(resolve);
      };
      process.on("SIGINT", () => onSignal("SIGINT"));
      process.on("SIGTERM", () => onSignal("SIGTERM"));
    });
    await stopped;
    store.close();
    if (!context.values.quiet) output.out(`drone ${drone.id}: stopped`);
    return 0;
  },
};
