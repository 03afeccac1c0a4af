/**
 * The checkpoint thread of one store (see checkpoints.ts). It receives the
 * database path and the shared slots once, then "checkpoint" messages; each
 * checkpoint runs on a connection opened for it and closed after it, so the
 * thread holds no connection between checkpoints, nor after its store closed.
 */
import { Database } from "bun:sqlite";
import { BUSY, checkpoint, DONE, IDLE, LOG, PAUSE, RESTART_WAIT_MS, STATE } from "./checkpoints.ts";

declare const self: Worker;

let path = "";
let shared: Int32Array | null = null;

function pause(slots: Int32Array, on: boolean): void {
  Atomics.store(slots, PAUSE, on ? 1 : 0);
  if (!on) Atomics.notify(slots, PAUSE);
}

self.onmessage = (event: MessageEvent<{ path: string; shared: Int32Array } | "checkpoint">) => {
  if (event.data !== "checkpoint") {
    ({ path, shared } = event.data);
    return;
  }
  const slots = shared;
  if (!slots || Atomics.compareExchange(slots, STATE, IDLE, BUSY) !== IDLE) return; // the store is closing
  try {
    const db = new Database(path, { readwrite: true, create: false });
    try {
      db.run("PRAGMA busy_timeout = 0");
      checkpoint(
        db,
        RESTART_WAIT_MS,
        (on) => pause(slots, on),
        (frames) => Atomics.store(slots, LOG, frames),
      );
    } finally {
      db.close();
    }
  } catch {
    // Busy or failing: the next request tries again.
  } finally {
    pause(slots, false);
    Atomics.add(slots, DONE, 1);
    Atomics.store(slots, STATE, IDLE);
    Atomics.notify(slots, STATE);
  }
};
