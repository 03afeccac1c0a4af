import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../src/core/clock.ts";
import type { WorkplanInput } from "../src/core/workplan.ts";
import type { SqliteStore, SqliteStoreOptions } from "../src/store/sqlite/store.ts";
import { openTestStore } from "./fixtures/stores.ts";

export { openTestStore } from "./fixtures/stores.ts";

/** A fresh directory under the test run's temp root. */
export function freshDir(): string {
  return mkdtempSync(join(process.env.FARCASTER_TEST_DIR!, "t-"));
}

/** A fresh database file with the real migrations and the system clock, for tests with real processes. */
export function freshRealTimeStore(): { store: SqliteStore; path: string } {
  const path = join(freshDir(), "farcaster.db");
  return { store: openTestStore(path), path };
}

/** A fresh database file with the real migrations, and a clock the test moves. */
export function freshStore(options: SqliteStoreOptions = {}): { store: SqliteStore; clock: ManualClock; path: string } {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const path = join(freshDir(), "farcaster.db");
  const store = openTestStore(path, { random: () => 0.5, ...options, clock });
  return { store, clock, path };
}

/** A plan from a compact list: [id, after...]. Every task runs the `noop` workflow. */
export function plan(...tasks: [string, ...string[]][]): WorkplanInput {
  return {
    goal: "test goal",
    tasks: tasks.map(([id, ...after]) => ({ id, title: `task ${id}`, workflow: "noop", input: {}, after })),
  };
}

/** Waits until `check` holds, polling every 10 ms; fails naming `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

/**
 * The error a promise rejects with (fails if it resolves). Use this instead
 * of `expect(promise).rejects`: bun:test waits for a pending promise there
 * with a synchronous wait that returns late (100 ms to 1 s) when, as with the
 * store's group commit, a setImmediate callback settles it
 * (oven-sh/bun#39268). `await` has no such problem.
 */
export async function rejected(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}
