/**
 * `farcaster serve`: the HTTP API on Bun.serve, the cron scheduler, and
 * optionally in-process drones. Refuses to listen beyond loopback without FARCASTER_TOKEN.
 */
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { UsageError } from "../../core/errors.ts";
import { isLoopback } from "../../api/auth.ts";
import { Drone } from "../../engine/drone.ts";
import { Scheduler } from "../../engine/scheduler.ts";
import { fireInput } from "../../services/schedules.ts";
import { commandWorkflows, intOption, openCommandStore } from "../args.ts";
import { idleWarning } from "../idleWarning.ts";
import { COMMON_OPTIONS, stringOption, type Command, type CommandContext } from "../command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the HTTP API (triggers, gates, events, status), optionally with drones",
  usage: "serve [--port 8787] [--host 127.0.0.1] [--workers N] [--goal-root DIR]...",
  positionals: [],
  options: {
    ...COMMON_OPTIONS,
    port: { type: "string", short: "p", valueName: "PORT", description: "port to listen on (default 8787; 0 picks a free one)" },
    host: { type: "string", valueName: "HOST", description: "address to listen on (default 127.0.0.1); beyond loopback needs FARCASTER_TOKEN" },
    workers: { type: "string", short: "w", valueName: "N", description: "drones in this process (default 0: use `farcaster worker`)" },
    workflows: { type: "string", valueName: "DIR", description: "also load workflows from DIR (or $FARCASTER_WORKFLOWS)" },
    "goal-root": { type: "string", multiple: true, valueName: "DIR", description: "a directory clients' goalFile paths may lie under (repeatable; default: the current directory)" },
  },
  async run(context) {
    const host = stringOption(context, "host") ?? "127.0.0.1";
    const port = intOption(context, "port", { min: 0, max: 65535, fallback: 8787 });
    const workers = intOption(context, "workers", { min: 0, max: 256, fallback: 0 });
    const token = process.env.FARCASTER_TOKEN || undefined;
    if (!isLoopback(host) && !token) {
      throw new UsageError(`refusing to listen on ${host} without a token: set FARCASTER_TOKEN (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1`);
    }
    const goalRoots = goalRootsOf(context);
    // The HTTP API (hono and its routes) is imported by this command only, not by every CLI call that lists it;
    // before the store opens, so that a broken install fails before any database is made.
    const { createApp } = await import("../../api/app.ts");
    // Ctrl-C / SIGTERM handlers go in before anything is said: a client that reads "listening on" and
    // stops the server at once must get the graceful stop (and every line written), not the default
    // death by signal (seen: exit 143 with the idle warning lost, when the handlers came after the line).
    const stopped = new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    const registry = await commandWorkflows(context);
    const store = await openCommandStore(context, "create", { share: true });
    // Every fire reads its goal file under the same roots as the API, whoever added the schedule
    // (a client, or `farcaster schedule add` on this machine): what the server reads, it reads
    // under its roots. `farcaster schedule run` fires as the local user instead.
    const fireRoots = goalRoots ?? [process.cwd()];
    const scheduler = new Scheduler({ store, prepareFire: (schedule) => fireInput(schedule, registry, { roots: fireRoots }) });
    const app = createApp({ store, registry, token, goalRoots, onSchedulesChanged: () => scheduler.poke() });
    let server: ReturnType<typeof Bun.serve>;
    try {
      server = Bun.serve({ hostname: host, port, fetch: app.fetch, idleTimeout: 0 });
    } catch (error) {
      await store.close();
      throw listenError(error, host, port);
    }
    const drones = Array.from({ length: workers }, (_, i) =>
      new Drone({ store, registry, concurrency: 4, id: `${hostname()}:${process.pid}:s${i + 1}` }).start(),
    );
    scheduler.start();
    const idle = await idleWarning(store, workers);
    context.output.out(`farcaster serve: listening on http://${server.hostname}:${server.port} (${token ? "token required" : "no token"}, ${workers} drone(s))`);
    if (idle) context.output.err(idle);

    await stopped;
    context.output.out("farcaster serve: stopping");
    server.stop();
    await scheduler.stop();
    await Promise.all(drones.map((drone) => drone.stop(5_000)));
    await store.close();
    return 0;
  },
};

/**
 * Why Bun.serve could not listen, as the option to change. Bun 1.4 says
 * EADDRINUSE also for an address that is not this machine's when the port
 * is 0, and EADDRNOTAVAIL for one it can parse but not bind.
 */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as { code?: unknown })?.code;
  if (code === "EADDRINUSE" && port !== 0) {
    return new UsageError(`--port ${port}: something already listens on ${host}:${port}; stop it, pick another port, or --port 0 for a free one`);
  }
  if (code === "EADDRINUSE" || code === "EADDRNOTAVAIL" || code === "ENOENT") {
    return new UsageError(`--host ${host}: this machine has no such address to listen on; use one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`);
  }
  if (code === "EACCES") return new UsageError(`--port ${port}: this user may not listen on ports below 1024; pick a higher one, such as the default 8787`);
  return error;
}

/** `--goal-root DIR`, repeatable: each must be an existing directory (resolved now, so the server's later cwd does not matter). */
function goalRootsOf(context: CommandContext): string[] | undefined {
  const given = context.values["goal-root"];
  const dirs = (Array.isArray(given) ? given : given === undefined ? [] : [given]).filter((dir): dir is string => typeof dir === "string");
  if (dirs.length === 0) return undefined;
  return dirs.map((dir) => {
    const path = resolve(dir);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new UsageError(`--goal-root ${dir} is not a directory; pass an existing directory clients' goal files may lie under`);
    return path;
  });
}
