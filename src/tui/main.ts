/**
 * `farcaster tui` in a terminal: a read-only store, the renderer on the
 * alternate screen, the dashboard, and a terminal given back as it was on
 * q, Ctrl-C, a signal or an error.
 */
import { createCliRenderer } from "@opentui/core";
import { defaultDecider } from "../services/gates.ts";
import { openStore } from "../store/index.ts";
import { Dashboard, MAX_DRAWS_PER_SECOND } from "./app.ts";
import { dashboardActor, storeDecisions } from "./decisions.ts";

export interface DashboardRun {
  db?: string;
  runId?: string;
  color: boolean;
}

const SIGNAL_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Returns the exit code: 0 when the person quit, 128 + n after signal n. */
export async function runDashboard(options: DashboardRun): Promise<number> {
  // Opened first: a missing database is reported before the screen is taken.
  const store = await openStore({ db: options.db, access: "read" });
  let code = 0;
  try {
    const renderer = await createCliRenderer({
      screenMode: "alternate-screen",
      exitOnCtrlC: false, // Ctrl-C is a key like q: the dashboard stops, then the renderer restores the terminal
      exitSignals: [],
      useMouse: false,
      targetFps: MAX_DRAWS_PER_SECOND,
      maxFps: MAX_DRAWS_PER_SECOND,
      openConsoleOnError: false,
    });
    const dashboard = new Dashboard({
      renderer,
      store,
      decisions: storeDecisions(() => openStore({ db: options.db, access: "existing" }), dashboardActor(defaultDecider())),
      runId: options.runId,
      color: options.color,
    });
    const handlers = Object.entries(SIGNAL_CODES).map(([signal, exit]) => {
      const handler = () => {
        code = exit!;
        void dashboard.stop().then(() => renderer.destroy());
      };
      process.once(signal, handler);
      return [signal, handler] as const;
    });
    try {
      await dashboard.start();
      // Whatever destroys the renderer (a signal, a failed terminal) ends the dashboard too.
      await Promise.race([dashboard.finished, new Promise<void>((resolve) => renderer.once("destroy", () => resolve()))]);
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      await dashboard.stop();
      renderer.destroy();
      await renderer.closed;
    }
    // Reported once the terminal is back, so the message is readable.
    if (dashboard.error) throw dashboard.error;
  } finally {
    await store.close();
  }
  return code;
}
