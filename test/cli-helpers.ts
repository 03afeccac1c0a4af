import { existsSync } from "node:fs";
import { join } from "node:path";
import type { GateRecord, Store } from "../src/store/types.ts";
import { freshDir, openTestStore } from "./helpers.ts";

export const ENTRY = join(import.meta.dir, "..", "farcaster.ts");
export const REPO = join(import.meta.dir, "..");

export interface CliOptions {
  cwd?: string;
  db?: string;
  env?: Record<string, string>;
}

function environment(options: CliOptions): Record<string, string> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...options.env };
  if (options.db) env.FARCASTER_DB = options.db;
  else if (!options.env?.FARCASTER_DB) delete env.FARCASTER_DB;
  return env;
}

/** Runs `farcaster ARGS` to the end, as a user would, without a terminal. */
export async function farcaster(args: string[], options: CliOptions = {}) {
  const cwd = options.cwd ?? freshDir();
  const proc = Bun.spawn([process.execPath, ENTRY, ...args], { cwd, env: environment(options), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code, cwd };
}

/** Starts `farcaster ARGS` in the background; `seen` holds its stdout so far, `stdout` all of it once it ended. */
export function spawnFarcaster(args: string[], options: CliOptions & { cwd: string }) {
  const proc = Bun.spawn([process.execPath, ENTRY, ...args], { cwd: options.cwd, env: environment(options), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const job = { proc, seen: "", stdout: Promise.resolve(""), stderr: new Response(proc.stderr).text() };
  job.stdout = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) job.seen += decoder.decode(chunk, { stream: true });
    return job.seen;
  })();
  return job;
}

/**
 * Reads a database through a read-only store, as another process would, and
 * closes it. The database must exist (a read-only store never creates one).
 */
export async function withReader<T>(db: string, read: (store: Store) => Promise<T>): Promise<T> {
  const store = openTestStore(db, { readOnly: true });
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

/** The runs of a database, newest first. */
export function runsOf(db: string) {
  return withReader(db, (store) => store.listRuns({ limit: 1_000 }));
}

export { until } from "./helpers.ts";

/**
 * The pending gates of a database, read through a read-only store (as another
 * process would): none while a subprocess has yet to create and migrate it.
 */
export async function pendingGates(db: string): Promise<GateRecord[]> {
  if (!existsSync(db)) return []; // not created yet
  try {
    return await withReader(db, (store) => store.listGates({ pendingOnly: true }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "database_too_old" || /database is locked|busy/i.test(String(error))) return []; // being migrated, or briefly locked
    throw error;
  }
}
