/**
 * `farcaster serve`: the HTTP API on Bun.serve, the cron scheduler, and
 * optionally in-process drones. Refuses to listen beyond loopback without FARCASTER_TOKEN.
 */
import { hostname } from "node:os";
import { UsageError } from "../../core/errors.ts";
import { createApp } from "../../api/app.ts";
import { isLoopback } from "../../api/auth.ts";
import { Drone } from "../../engine/drone.ts";
import { loadWorkflows } from "../../engine/registry.ts";
import { Scheduler } from "../../engine/scheduler.ts";
import { fireInput } from "../../services/schedules.ts";
import { openStore } from "../../store/index.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the HTTP API (triggers, gates, events, status), optionally with drones",
  usage: "serve [--port 8787] [--host 127.0.0.1] [--workers N]",
  options: {
    ...COMMON_OPTIONS,
    port: { type: "string", short: "p", valueName: "PORT", description: "port to listen on (default 8787; 0 picks a free one)" },
    host: { type: "string", valueName: "HOST", description: "address to listen on (default 127.0.0.1); beyond loopback needs FARCASTER_TOKEN" },
    workers: { type: "string", short: "w", valueName: "N", description: "drones in this process (default 0: use `farcaster worker`)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
  },
  async run(context) {
    const host = stringOption(context, "host") ?? "127.0.0.1";
    const port = Number(stringOption(context, "port") ?? 8787);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535 (got "${stringOption(context, "port")}")`);
    const workers = Number(stringOption(context, "workers") ?? 0);
    if (!Number.isInteger(workers) || workers < 0 || workers > 256) throw new UsageError(`--workers must be 0-256 (got "${stringOption(context, "workers")}")`);
    const token = process.env.FARCASTER_TOKEN || undefined;
    if (!isLoopback(host) && !token) {
      throw new UsageError(`refusing to listen on ${host} without a token: set FARCASTER_TOKEN (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1`);
    }
    const registry = await loadWorkflows({ dirs: [stringOption(context, "workflows") ?? ""] });
    const store = openStore({ db: stringOption(context, "db") });
    const scheduler = new Scheduler({ store, prepareFire: (schedule) => fireInput(schedule, registry) });
    const app = createApp({ store, registry, token, onSchedulesChanged: () => scheduler.poke() });
    const server = Bun.serve({ hostname: host, port, fetch: app.fetch, idleTimeout: 0 });
    const drones = Array.from({ length: workers }, (_, i) =>
      new Drone({ store, registry, concurrency: 4, id: `${hostname()}:${process.pid}:s${i + 1}` }).start(),
    );
    scheduler.start();
    context.output.out(`farcaster serve: listening on http://${server.hostname}:${server.port} (${token ? "token required" : "no token"}, ${workers} drone(s))`);

    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    context.output.out("farcaster serve: stopping");
    server.stop();
    await scheduler.stop();
    await Promise.all(drones.map((drone) => drone.stop(5_000)));
    store.close();
    return 0;
  },
};
