/**
 * WAL checkpoints, kept off the claim/complete path.
 *
 * With SQLite's automatic checkpoint, the COMMIT that pushes the WAL past
 * 1000 pages copies the WAL into the database file, and the copy begins with
 * an fsync of the WAL. That fsync (the disk writing every WAL page, ~12 µs a
 * page on the development machine) is nearly all of a checkpoint's cost, and
 * one claim or completion pays it: ~250 µs per cycle of the store's ~700 µs.
 * With several processes it is worse: some process always holds a read mark,
 * the WAL is never restarted and, past the threshold, every COMMIT tries
 * again (measured: WAL 100–450 MB in 3 s, COMMIT ~1 ms).
 *
 * So store connections run with wal_autocheckpoint=0, and a Checkpointer has
 * a worker thread (checkpointWorker.ts) checkpoint on its own connection, at
 * most once per CHECKPOINT_INTERVAL_MS or CHECKPOINT_EVERY_COMMITS commits.
 * A thread, because bun:sqlite is synchronous: in this thread a checkpoint
 * would stall every claim for its fsync, and an async step would wait for an
 * idle event loop, which a busy loop of claims never gives.
 *
 * The worker runs PASSIVE checkpoints, which wait for nobody, until the
 * frames written meanwhile are few. The WAL is only restarted (written from
 * its start again) when a writer finds it all copied and no reader in it,
 * which writers that never stop never allow; so when it holds more than
 * WAL_RESTART_PAGES the worker runs RESTART: it takes the writer lock, copies
 * the last few frames and waits for the readers, and the next writer starts
 * the WAL over. Meanwhile this process's writes wait (the PAUSE slot), and
 * other processes' writes find the lock taken, for a few milliseconds.
 * journal_size_limit truncates a WAL file that grew past WAL_SIZE_LIMIT_BYTES.
 * Past WAL_THROTTLE_PAGES (a disk slower than the writes), writes wait 1 ms
 * each while the worker checkpoints: the disk sets the pace, not the WAL.
 * Durability is SQLite's: every checkpoint fsyncs the WAL before it
 * overwrites database pages.
 *
 * Should the worker fail to start or die, the store checkpoints inline once
 * a request has waited WORKER_STALL_MS, so the WAL stays bounded either way.
 */
import type { Database } from "bun:sqlite";

export const CHECKPOINT_INTERVAL_MS = 250;
export const CHECKPOINT_EVERY_COMMITS = 250;
export const WAL_RESTART_PAGES = 4096;
/** A PASSIVE pass is repeated while more than this many frames were written during the last one. */
const SMALL_TAIL_PAGES = 128;
const MAX_PASSIVE_PASSES = 4;
/** How long RESTART keeps trying for the writer lock and an empty WAL read set. */
export const RESTART_WAIT_MS = 20;
/** Past this many frames in the WAL, writes wait for the checkpoint in flight: the disk sets the pace. */
export const WAL_THROTTLE_PAGES = 4 * WAL_RESTART_PAGES;
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** A request the worker has not even started after this long means it is gone: checkpoint inline. */
const WORKER_STALL_MS = 2_000;
const CLOSE_WAIT_MS = 2_000;

/** Slots of the Int32Array shared with the worker. */
export const STATE = 0; // IDLE, BUSY or CLOSED: the worker checkpoints only from IDLE
export const DONE = 1; // checkpoints the worker finished
export const PAUSE = 2; // 1 while the worker restarts the WAL: this process's writes wait
export const LOG = 3; // frames in the WAL when the worker last looked
export const IDLE = 0;
export const BUSY = 1;
export const CLOSED = 2;

/** PRAGMAs of a store connection whose checkpoints a Checkpointer runs. */
export function disableAutoCheckpoint(db: Database): void {
  db.run("PRAGMA wal_autocheckpoint = 0");
  db.run(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
}

export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * One checkpoint on a connection with busy_timeout=0: PASSIVE passes, then,
 * when the WAL is large, RESTART tries for up to `restartWaitMs` (a RESTART
 * that finds the writer lock taken does a PASSIVE pass and reports busy).
 * `pause` is set around the RESTART tries.
 */
export function checkpoint(db: Database, restartWaitMs: number, pause?: (on: boolean) => void, seen?: (frames: number) => void): CheckpointResult | null {
  const passive = db.query<CheckpointResult, []>("PRAGMA wal_checkpoint(PASSIVE)");
  let result = passive.get();
  for (let pass = 1; result && pass < MAX_PASSIVE_PASSES; pass++) {
    seen?.(result.log);
    const next = passive.get();
    if (!next) break;
    const written = next.log - result.log;
    result = next;
    if (written >= 0 && written <= SMALL_TAIL_PAGES) break; // < 0: another writer restarted the WAL
  }
  if (result) seen?.(result.log);
  if (!result || result.log <= WAL_RESTART_PAGES) return result;
  const restart = db.query<CheckpointResult, []>("PRAGMA wal_checkpoint(RESTART)");
  const deadline = performance.now() + restartWaitMs;
  pause?.(true);
  try {
    for (;;) {
      result = restart.get();
      if (result?.busy === 0) seen?.(0); // the next write starts the WAL over
      if (!result || result.busy === 0 || performance.now() >= deadline) return result;
      Bun.sleepSync(0.2);
    }
  } finally {
    pause?.(false);
  }
}

export class Checkpointer {
  private readonly shared = new Int32Array(new SharedArrayBuffer(16));
  private worker: Worker | null = null;
  /** When the last checkpoint was asked for (or run inline). */
  private lastAt: number;
  private requestedAt = 0;
  private requested = 0;
  private commits = 0;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly path: string,
  ) {
    // The first checkpoint comes an interval after opening: a short-lived store never starts the thread.
    this.lastAt = performance.now();
  }

  /**
   * Null (go ahead) or a promise to await before the next write: while the
   * worker restarts the WAL (a few ms), or while the WAL is past
   * WAL_THROTTLE_PAGES and the worker is checkpointing (a disk slower than
   * the writes must not let the WAL grow without bound).
   */
  paused(): Promise<unknown> | null {
    if (Atomics.load(this.shared, PAUSE) === 1) return Atomics.waitAsync(this.shared, PAUSE, 1, RESTART_WAIT_MS * 2).value as Promise<unknown>;
    if (Atomics.load(this.shared, LOG) > WAL_THROTTLE_PAGES && Atomics.load(this.shared, STATE) === BUSY) return Bun.sleep(1);
    return null;
  }

  /** Call after each commit: asks for a checkpoint when one is due. */
  committed(): void {
    this.commits++;
    const now = performance.now();
    if (this.closed || (now - this.lastAt < CHECKPOINT_INTERVAL_MS && this.commits < CHECKPOINT_EVERY_COMMITS)) return;
    const outstanding = Atomics.load(this.shared, DONE) < this.requested;
    // A request in flight: the worker is checkpointing (however long a large WAL takes), or has yet to start.
    if (outstanding && (Atomics.load(this.shared, STATE) === BUSY || now - this.requestedAt < WORKER_STALL_MS)) return;
    this.lastAt = now;
    this.commits = 0;
    if (outstanding) return this.checkpointInline(); // never picked up: the worker is gone
    this.requested++;
    this.requestedAt = now;
    try {
      this.worker ??= this.startWorker();
      this.worker.postMessage("checkpoint");
    } catch {
      this.checkpointInline();
    }
  }

  private startWorker(): Worker {
    const worker = new Worker(new URL("./checkpointWorker.ts", import.meta.url).href);
    worker.unref(); // never keeps the process alive
    worker.postMessage({ path: this.path, shared: this.shared });
    return worker;
  }

  /** The fallback: this connection checkpoints, without waiting for the writer lock. */
  private checkpointInline(): void {
    try {
      checkpoint(this.db, 0);
    } catch {
      // Busy or failing: the WAL stays as it is and the next checkpoint tries again.
    }
  }

  /**
   * Stops the worker, after its checkpoint in flight (its connection closed),
   * so that the store's close is the last one: SQLite then checkpoints and
   * removes the WAL as usual.
   */
  close(): void {
    this.closed = true;
    if (!this.worker) return;
    const deadline = performance.now() + CLOSE_WAIT_MS;
    while (Atomics.compareExchange(this.shared, STATE, IDLE, CLOSED) === BUSY && performance.now() < deadline) {
      Atomics.wait(this.shared, STATE, BUSY, deadline - performance.now());
    }
    this.worker.terminate();
    this.worker = null;
  }
}
