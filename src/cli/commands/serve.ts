/**
 * `farcaster serve`: the HTTP API on Bun.serve, the cron scheduler, and
 * optionally in-process drones. Refuses to listen beyond loopback without FARCASTER_TOKEN.
 */
import { hostname } from "node:os";
import { UsageError } from "../../core/errors.ts";
import { createApp } from "../../api/app.ts";
import { isLoopback } from "../../api/auth.ts";
import { Drone } from "../../engine/drone.ts";
import { Scheduler } from "../../engine/scheduler.ts";
import { fireInput } from "../../services/schedules.ts";
import { commandWorkflows, intOption, openCommandStore } from "../args.ts";
import { COMMON_OPTIONS, stringOption, type Command } from "../command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the HTTP API (triggers, gates, events, status), optionally with drones",
  usage: "serve [--port 8787] [--host 127.0.0.1] [--workers N]",
  positionals: [],
  options: {
    ...COMMON_OPTIONS,
    port: { type: "string", short: "p", valueName: "PORT", description: "port to listen on (default 8787; 0 picks a free one)" },
    host: { type: "string", valueName: "HOST", description: "address to listen on (default 127.0.0.1); beyond loopback needs FARCASTER_TOKEN" },
    workers: { type: "string", short: "w", valueName: "N", description: "drones in this process (default 0: use `farcaster worker`)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
  },
  async run(context) {
    const host = stringOption(context, "host") ?? "127.0.0.1";
    const port = intOption(context, "port", { min: 0, max: 65535, fallback: 8787 });
    const workers = intOption(context, "workers", { min: 0, max: 256, fallback: 0 });
    const token = process.env.FARCASTER_TOKEN || undefined;
    if (!isLoopback(host) && !token) {
      throw new UsageError(`refusing to listen on ${host} without a token: set FARCASTER_TOKEN (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1`);
    }
    const registry = await commandWorkflows(context);
    const store = await openCommandStore(context, "create", { share: true });
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
    await store.close();
    return 0;
  },
};
