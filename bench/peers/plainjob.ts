/**
 * plainjob as a contender: installed by the bench, never a dependency of the
 * project (`npm install --prefix` into a cache folder under the system temp
 * directory, reused by later runs), prepared and worked by
 * bench/peers/plainjob-worker.ts processes. Its window comes from the workers
 * themselves (plainjob records no start or finish times): the first handler
 * call to the last completion, as each worker printed it at exit.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Children } from "../lib/procs.ts";
import type { Contender, Prepared, Span } from "./measure.ts";
import type { PlainjobJob, WorkResult } from "./plainjob-worker.ts";
import type { Shape } from "./shapes.ts";

export const PLAINJOB_VERSION = "0.0.14";
const WORKER = join(import.meta.dir, "plainjob-worker.ts");
/** plainjob's JobStatus: Pending 0, Processing 1, Done 2, Failed 3. Each lookup is one seek in its status index. */
const ANY_OPEN = "SELECT id FROM plainjob_jobs WHERE status IN (0, 1) LIMIT 1";
const ANY_FAILED = "SELECT id FROM plainjob_jobs WHERE status = 3 LIMIT 1";

/** Installs plainjob (once per cache folder) and returns the path of its module. */
export async function installPlainjob(progress: (message: string) => void): Promise<string> {
  const dir = join(tmpdir(), "farcaster-bench-peers", `plainjob-${PLAINJOB_VERSION}`);
  const manifest = join(dir, "node_modules", "plainjob", "package.json");
  const installed = () => existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version === PLAINJOB_VERSION;
  if (!installed()) {
    progress(`installing plainjob@${PLAINJOB_VERSION} into ${dir}`);
    mkdirSync(dir, { recursive: true });
    const npm = Bun.spawn(["npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", `plainjob@${PLAINJOB_VERSION}`], {
      stdin: "ignore", stdout: "pipe", stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(npm.stderr).text(), npm.exited]);
    if (code !== 0 || !installed()) throw new Error(`npm install plainjob@${PLAINJOB_VERSION} failed (exit ${code}):\n${stderr.trim()}`);
  }
  return join(dir, "node_modules", "plainjob", "dist", "plainjob.js");
}

export function plainjobContender(module: string, children: Children): Contender {
  return {
    name: "plainjob",
    description: `plainjob ${PLAINJOB_VERSION} (${module}) on bun:sqlite, one defineWorker per process`,
    async prepare(shape: Shape, tasks: number, db: string): Promise<Prepared> {
      const job = (mode: PlainjobJob["mode"]): string => JSON.stringify({ mode, module, db, layout: shape.layout, tasks, sync: shape.sync } satisfies PlainjobJob);
      await children.json([process.execPath, WORKER, job("prepare")], "plainjob: prepare");
      return {
        env: { ...process.env },
        cwd: process.cwd(),
        workerCommand: () => [process.execPath, WORKER, job("work")],
        done(reader: Database) {
          if (reader.query(ANY_FAILED).get()) throw new Error(`plainjob: a job failed in ${db}`);
          if (reader.query(ANY_OPEN).get()) return false;
          // Nothing open: done once every job of the shape has been enqueued (ids are 1, 2, …).
          return (reader.query<{ jobs: number | null }, []>("SELECT max(id) AS jobs FROM plainjob_jobs").get()?.jobs ?? 0) >= tasks;
        },
        span(_reader: Database, outputs: string[]): Span {
          const results = outputs.map((text) => JSON.parse(text) as WorkResult);
          const starts = results.flatMap((r) => (r.firstStart === null ? [] : [r.firstStart]));
          const ends = results.flatMap((r) => (r.lastDone === null ? [] : [r.lastDone]));
          return { from: Math.min(...starts), to: Math.max(...ends), tasks: results.reduce((n, r) => n + r.count, 0) };
        },
      };
    },
  };
}
