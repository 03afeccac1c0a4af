/**
 * Farcaster as a contender, driven through its CLI as a user would drive it:
 * the shape's workplan as a JSON file, `farcaster run plan.json --detach`,
 * then `farcaster worker --quiet` processes. The run's first task (@plan)
 * inserts the plan's tasks; the window is the plan's tasks only, from the
 * first one's first step (its journaled started_at) to the last one's
 * finished_at (the store's clock, whole ms). Any checkout can be the contender (--farcaster DIR): its own
 * farcaster.ts runs, with its own bench/workflows if it has bench-noop.
 */
import type { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { commitInfo } from "../lib/machine.ts";
import type { Children } from "../lib/procs.ts";
import type { TempDir } from "../lib/files.ts";
import type { Contender, Prepared, Span } from "./measure.ts";
import { workplan, type Shape } from "./shapes.ts";
import { socketPathFor } from "../../src/store/sqlite/shared/store.ts";

const OWN_WORKFLOWS = join(import.meta.dir, "..", "workflows");
/** How long the first worker has to start hosting the file before the others start anyway. */
const HOST_WAIT_MS = 15_000;

interface RunState {
  state: string;
  tasks_open: number;
  tasks_failed: number;
}

/** The checkout's bench workflows when they define bench-noop, else this bench's own. */
function workflowsOf(checkout: string): string {
  const dir = join(checkout, "bench", "workflows");
  const noop = join(dir, "noop.ts");
  return existsSync(noop) && readFileSync(noop, "utf8").includes('"bench-noop"') ? dir : OWN_WORKFLOWS;
}

/**
 * `extraWorkersNice`: with several workers, the first starts alone, and the
 * others once it hosts the file (its socket is there), each under
 * `nice -n N`: what a user does to keep the store host's main thread, which
 * applies every worker's writes, from waiting for a CPU behind the others.
 */
export function farcasterContender(name: string, checkout: string, scratch: TempDir, children: Children, extraWorkersNice?: number, problems?: string[]): Contender {
  const root = resolve(checkout);
  const entry = join(root, "farcaster.ts");
  if (!existsSync(entry)) throw new Error(`--${name}: ${root} has no farcaster.ts`);
  const workflows = workflowsOf(root);
  // The CLI also loads ./workflows: run it where there is none, as in a project of the user's.
  const cwd = scratch.path;
  const plans = new Map<string, string>();
  /** One plan file per layout and size, written once and reused by every round. */
  const planFile = (shape: Shape, tasks: number) => {
    const key = `${shape.layout}-${tasks}`;
    let file = plans.get(key);
    if (!file) {
      file = scratch.file(`${name}-plan-${key}.json`);
      writeFileSync(file, JSON.stringify(workplan(shape.layout, tasks)));
      plans.set(key, file);
    }
    return file;
  };
  return {
    name,
    description: `${root} (commit ${commitInfo(root)}), workflows from ${workflows}` +
      (extraWorkersNice === undefined ? "" : `; with several workers, the first starts alone and the others, once it hosts the file, under nice -n ${extraWorkersNice}`),
    async prepare(shape, tasks, db): Promise<Prepared> {
      // --db and --workflows say where; nothing from this shell's environment may say otherwise.
      const { FARCASTER_DB: _db, FARCASTER_WORKFLOWS: _workflows, ...inherited } = process.env;
      const env = { ...inherited, FARCASTER_SYNC: shape.sync };
      const { value } = await children.json<{ run: { id: string } }>(
        [process.execPath, entry, "run", planFile(shape, tasks), "--detach", "--json", "--db", db, "--workflows", workflows],
        `${name}: farcaster run --detach`,
        { env, cwd },
      );
      const runId = value.run.id;
      return {
        env, cwd,
        workerCommand: (index) => [
          ...(extraWorkersNice !== undefined && index > 0 ? ["nice", "-n", String(extraWorkersNice)] : []),
          process.execPath, entry, "worker", "--db", db, "--workflows", workflows, "--quiet",
        ],
        ...(extraWorkersNice === undefined ? {} : { firstWorkerReady: () => hosting(db, name, problems) }),
        done(reader: Database) {
          const run = reader.query<RunState, [string]>("SELECT state, tasks_open, tasks_failed FROM runs WHERE id = ?").get(runId);
          if (!run) throw new Error(`${name}: run ${runId} is not in ${db}`);
          if (run.state === "failed" || run.state === "cancelled") throw new Error(`${name}: run ${runId} ${run.state} (${run.tasks_failed} task(s) failed)`);
          return run.state === "succeeded";
        },
        span(reader: Database): Span {
          const row = reader
            .query<{ last: number; ok: number }, [string]>(
              "SELECT max(finished_at) AS last, count(*) AS ok FROM tasks WHERE run_id = ? AND key != '@plan' AND state = 'succeeded'",
            )
            .get(runId)!;
          // The first step function's start, as plainjob's window starts at its first handler call. Not the
          // first task's started_at: the tasks claimed in the transaction that completes @plan are stamped
          // with that transaction's clock, taken before it inserted the whole plan (~0.4 s for 15,000 tasks).
          const first = reader
            .query<{ first: number }, [string]>(
              "SELECT min(s.started_at) AS first FROM steps s JOIN tasks t ON t.id = s.task_id WHERE t.run_id = ? AND t.key != '@plan'",
            )
            .get(runId)!;
          return { from: first.first, to: row.last, tasks: row.ok };
        },
        // --quiet still says on stderr that SIGTERM stops it.
        expected: (line) => line.includes("SIGTERM"),
      };
    },
  };
}

/** Resolves once a process hosts `db` (its socket exists), or after HOST_WAIT_MS, noting a problem. */
async function hosting(db: string, name: string, problems?: string[]): Promise<void> {
  const socket = socketPathFor(db);
  const deadline = performance.now() + HOST_WAIT_MS;
  while (!existsSync(socket)) {
    if (performance.now() > deadline) {
      problems?.push(`${name}: the first worker did not host ${db} within ${HOST_WAIT_MS / 1000} s; the others started anyway`);
      return;
    }
    await Bun.sleep(5);
  }
}
