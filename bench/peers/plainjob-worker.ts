/**
 * One plainjob process of bench/peers.ts, given its job as a JSON argument.
 *
 *   prepare  creates the queue's tables in a fresh database and enqueues the
 *            jobs that are ready at the start (all of them for independent
 *            tasks; the first of each chain; each diamond's root), then exits
 *   work     one plainjob worker (defineWorker, as its README shows) with a
 *            handler that does nothing but what the shape needs to enqueue
 *            the jobs that come next; on SIGTERM it stops the worker, closes
 *            the queue and prints a WorkResult as JSON on stdout
 *
 * How a shape's dependencies become plainjob work (plainjob has none):
 *   chains    job i's handler enqueues job i + CHAINS, if there is one
 *   diamonds  the root's handler enqueues its FAN_OUT jobs (queue.addMany, one
 *             transaction); each of those increments its diamond's counter in
 *             a table of this database (UPDATE … RETURNING, in one IMMEDIATE
 *             transaction with the enqueue), and the one that brings it to
 *             FAN_OUT enqueues the sink
 * plainjob runs the handler before, and apart from, marking the job done, so
 * these writes are transactions of their own: a worker that dies between
 * them and the job's completion leaves a counter incremented for a job that
 * will run again. Farcaster makes dependents ready in the completion's own
 * transaction; this is the honest plainjob equivalent, not a stronger one.
 *
 * plainjob is loaded from the folder bench/peers.ts installed it in; the types
 * below are the part of its API used here (see its src/queue.ts, src/worker.ts).
 *
 * usage: bun bench/peers/plainjob-worker.ts '<PlainjobJob as JSON>'
 */
import { Database } from "bun:sqlite";
import { wallNow } from "../workflows/_probe.ts";
import { CHAINS, FAN_OUT, type Layout, type SyncMode } from "./shapes.ts";

export type PlainjobJob = {
  mode: "prepare" | "work";
  /** plainjob's dist/plainjob.js */
  module: string;
  db: string;
  layout: Layout;
  tasks: number;
  sync: SyncMode;
};

export interface WorkResult {
  /** Jobs this worker completed. */
  count: number;
  /** Epoch ms: the first handler call, the last completion (after its commit); null if it did none. */
  firstStart: number | null;
  lastDone: number | null;
}

const JOB_TYPE = "bench";

interface Logger {
  error(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  info(message: string, ...meta: unknown[]): void;
  debug(message: string, ...meta: unknown[]): void;
}
interface PlainJob {
  id: number;
  type: string;
  data: string;
}
interface Queue {
  add(type: string, data: unknown): { id: number };
  addMany(type: string, data: unknown[]): { ids: number[] };
  close(): void;
}
interface Worker {
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface Plainjob {
  bun(db: Database): unknown;
  defineQueue(options: { connection: unknown; logger?: Logger }): Queue;
  defineWorker(type: string, processor: (job: PlainJob) => void | Promise<void>, options: { queue: Queue; logger?: Logger; onCompleted?: (job: PlainJob) => void }): Worker;
}

/** plainjob logs every job at debug level through console by default: keep warnings and errors only. */
const logger: Logger = {
  error: (message, ...meta) => console.error(message, ...meta),
  warn: (message, ...meta) => console.error(message, ...meta),
  info: () => {},
  debug: () => {},
};

type Data = { i: number } | { d: number; role: "root" | "fan" | "sink" };

async function open(job: PlainjobJob): Promise<{ plainjob: Plainjob; db: Database; queue: Queue }> {
  const plainjob = (await import(job.module)) as Plainjob;
  const db = new Database(job.db, { create: true, strict: true }); // its README: "Make sure strict mode is enabled!"
  // defineQueue sets journal_mode=WAL, synchronous=NORMAL and busy_timeout=5000 on the connection.
  const queue = plainjob.defineQueue({ connection: plainjob.bun(db), logger });
  if (job.sync === "full") db.run("PRAGMA synchronous = FULL");
  return { plainjob, db, queue };
}

async function prepare(job: PlainjobJob): Promise<void> {
  const { db, queue } = await open(job);
  if (job.layout === "independent") {
    queue.addMany(JOB_TYPE, Array.from({ length: job.tasks }, (_, i): Data => ({ i })));
  } else if (job.layout === "chains") {
    queue.addMany(JOB_TYPE, Array.from({ length: Math.min(CHAINS, job.tasks) }, (_, i): Data => ({ i })));
  } else {
    const diamonds = job.tasks / (FAN_OUT + 2);
    db.run("CREATE TABLE bench_fan_in (diamond INTEGER PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0)");
    const insert = db.prepare<void, [number]>("INSERT INTO bench_fan_in (diamond) VALUES (?)");
    db.transaction(() => {
      for (let d = 0; d < diamonds; d++) insert.run(d);
    })();
    queue.addMany(JOB_TYPE, Array.from({ length: diamonds }, (_, d): Data => ({ d, role: "root" })));
  }
  queue.close();
}

/** The handler: nothing, and for DAG shapes the enqueues that stand in for dependencies. */
function handler(job: PlainjobJob, db: Database, queue: Queue): (data: Data) => void {
  if (job.layout === "independent") return () => {};
  if (job.layout === "chains") {
    return (data) => {
      const next = (data as { i: number }).i + CHAINS;
      if (next < job.tasks) queue.add(JOB_TYPE, { i: next } satisfies Data);
    };
  }
  const bump = db.prepare<{ done: number }, [number]>("UPDATE bench_fan_in SET done = done + 1 WHERE diamond = ? RETURNING done");
  const fanIn = db.transaction((d: number) => {
    if (bump.get(d)!.done === FAN_OUT) queue.add(JOB_TYPE, { d, role: "sink" } satisfies Data);
  });
  return (data) => {
    const { d, role } = data as { d: number; role: "root" | "fan" | "sink" };
    if (role === "root") queue.addMany(JOB_TYPE, Array.from({ length: FAN_OUT }, (): Data => ({ d, role: "fan" })));
    else if (role === "fan") fanIn.immediate(d);
  };
}

async function work(job: PlainjobJob): Promise<WorkResult> {
  const { plainjob, db, queue } = await open(job);
  const result: WorkResult = { count: 0, firstStart: null, lastDone: null };
  const handle = handler(job, db, queue);
  const worker = plainjob.defineWorker(
    JOB_TYPE,
    async (j) => {
      result.firstStart ??= wallNow();
      handle(JSON.parse(j.data) as Data);
    },
    {
      queue, logger,
      onCompleted: () => {
        result.count++;
        result.lastDone = wallNow();
      },
    },
  );
  const stopped = Promise.withResolvers<void>();
  process.once("SIGTERM", () => stopped.resolve());
  const running = worker.start();
  await stopped.promise;
  await worker.stop();
  await running;
  queue.close();
  return result;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "null") as PlainjobJob | null;
  if (!job) throw new Error("usage: bun bench/peers/plainjob-worker.ts '<job as JSON>' (bench/peers.ts starts these)");
  const output = job.mode === "prepare" ? (await prepare(job), {}) : await work(job);
  await new Promise((resolve) => process.stdout.write(JSON.stringify(output), resolve));
  process.exit(0);
}
