import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freshDir } from "./helpers.ts";

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

export function query<T>(db: string, sql: string, ...params: (string | number)[]): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.query<T, (string | number)[]>(sql).all(...params);
  } finally {
    conn.close();
  }
}

export { until } from "./helpers.ts";

/** The pending gates of a database, read without the store (as another process would). */
export function pendingGates(db: string): { id: string; question: string; task_key: string }[] {
  if (!existsSync(db)) return []; // not created yet
  try {
    return query(db, "SELECT g.id, g.question, t.key AS task_key FROM gates g JOIN tasks t ON t.id = g.task_id WHERE g.state = 'pending' ORDER BY g.created_at");
  } catch (error) {
    if (/no such table|database is locked|busy/i.test(String(error))) return []; // being created, or briefly locked
    throw error;
  }
}
