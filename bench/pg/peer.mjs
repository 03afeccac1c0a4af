/**
 * The peers of bench/pg.ts, run by Node 22 (graphile-worker 0.18 and pg-boss
 * 12 need it; the bench installs both, and Node, into a folder of its own):
 *
 *   node peer.mjs enqueue graphile|pgboss URL SCHEMA N
 *   node peer.mjs work    graphile|pgboss URL SCHEMA CONCURRENCY BATCH
 *
 * `work` runs jobs whose handler does nothing until SIGTERM, then prints
 * {"first": ms, "last": ms, "handled": n} (epoch ms of the first handler call
 * and of the last handler return) and exits.
 *
 * graphile-worker, tuned: a local queue of BATCH jobs per worker process
 * (fetched and locked in one statement), batched completion
 * (completeJobBatchDelay 0: completions of one tick share a statement),
 * CONCURRENCY jobs at once. pg-boss: batch fetch of BATCH jobs per fetch
 * (completed together when the handler returns), CONCURRENCY/BATCH fetchers
 * (at least 1), fetching again at once while batches come back full.
 */
const [mode, peer, url, schema, arg1, arg2] = process.argv.slice(2);
const QUEUE = "noop";

let first = 0;
let last = 0;
let handled = 0;
const mark = () => {
  if (first === 0) first = Date.now();
};

async function graphile() {
  const { run, makeWorkerUtils, Logger } = await import("graphile-worker");
  const logger = new Logger(() => (level, message) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  });
  if (mode === "enqueue") {
    const utils = await makeWorkerUtils({ connectionString: url, schema, logger });
    await utils.migrate();
    const n = Number(arg1);
    for (let i = 0; i < n; i += 5_000) {
      await utils.addJobs(Array.from({ length: Math.min(5_000, n - i) }, () => ({ identifier: QUEUE, payload: {} })));
    }
    await utils.release();
    return;
  }
  const concurrency = Number(arg1);
  const runner = await run({
    connectionString: url,
    schema,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1_000,
    logger,
    taskList: {
      [QUEUE]: async () => {
        mark();
        handled++;
        last = Date.now();
      },
    },
    preset: { worker: { localQueue: { size: Number(arg2) }, completeJobBatchDelay: 0, failJobBatchDelay: 0, maxPoolSize: concurrency + 2 } },
  });
  await stopped();
  await runner.stop();
}

async function pgboss() {
  const { PgBoss } = await import("pg-boss");
  const boss = new PgBoss({ connectionString: url, schema, schedule: false, supervise: mode === "enqueue", migrate: mode === "enqueue" });
  boss.on("error", (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  if (mode === "enqueue") {
    await boss.createQueue(QUEUE);
    const n = Number(arg1);
    for (let i = 0; i < n; i += 5_000) await boss.insert(QUEUE, Array.from({ length: Math.min(5_000, n - i) }, () => ({ data: {} })));
    await boss.stop({ graceful: false, wait: true });
    return;
  }
  const concurrency = Number(arg1);
  const batchSize = Number(arg2);
  await boss.work(
    QUEUE,
    { batchSize, localConcurrency: Math.max(1, Math.round(concurrency / batchSize)), pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
    async (jobs) => {
      mark();
      handled += jobs.length;
      last = Date.now();
    },
  );
  await stopped();
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
}

function stopped() {
  return new Promise((resolve) => process.once("SIGTERM", resolve));
}

if (peer === "graphile") await graphile();
else if (peer === "pgboss") await pgboss();
else throw new Error(`unknown peer ${peer}`);
if (mode === "work") process.stdout.write(JSON.stringify({ first, last, handled }) + "\n");
process.exit(0);
