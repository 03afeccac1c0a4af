/** What the HTTP API is built from: the store, the workflows, and the server's settings. */
import type { Clock } from "../core/clock.ts";
import type { WorkflowRegistry } from "../engine/registry.ts";
import type { Store } from "../store/types.ts";

export const VERSION = "0.1.0";
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface ApiOptions {
  store: Store;
  registry: WorkflowRegistry;
  /** When set, every route but /healthz needs `Authorization: Bearer <token>`. */
  token?: string;
  bodyLimitBytes?: number;
  /** Working directory for runs created here (goal file paths resolve against it). */
  cwd?: string;
  /**
   * Directories under which `goalFile` (and a schedule's files) may lie, symlinks
   * resolved; default: [cwd]. A client may not make the server read anything else.
   */
  goalRoots?: readonly string[];
  /** "Now" for what the API measures (/metrics: how long the oldest gate has waited); default the system clock. */
  clock?: Clock;
  /** How often an open event or log stream sends a keep-alive comment (default SSE_KEEP_ALIVE_MS, 15 s). */
  sseKeepAliveMs?: number;
  /** Called when a schedule was added or resumed here, so the scheduler looks at once. */
  onSchedulesChanged?: () => void;
}
