/**
 * What a database provides to run the Store contract suite, and the per-test
 * harness the suite's modules share. A database implements `StoreFactory`:
 * each `open` is a fresh, empty database (migrated, as the store would leave
 * it) with a store on it; the suite closes every store it was given after
 * each test, so a factory only has to hand them out.
 */
import { afterEach } from "bun:test";
import { ManualClock } from "../../src/core/clock.ts";
import type { Store } from "../../src/store/types.ts";

export interface ContractOpenOptions {
  /** Every store on this database takes its "now" from this clock. */
  clock: ManualClock;
  /** Retry jitter (0 ≤ x < 1); the suite always passes one, so backoffs are exact. */
  random?: () => number;
  /** Crashes a task may have before it fails with reason recovery_limit; omitted: the store's default. */
  recoveryLimit?: number;
}

export interface ContractStores {
  store: Store;
  /** Another connection to the same database, as another process would have (same clock and options). */
  another(): Promise<Store>;
  /** A read-only store on the same database (a viewer). */
  reader(): Promise<Store>;
  /** Called after the test, once every store of this database is closed: drop what `open` made (a PostgreSQL schema). */
  dispose?(): Promise<void>;
}

export interface StoreFactory {
  /** A fresh, empty database with a store on it; time comes from `clock`, retry jitter from `random`. */
  open(options: ContractOpenOptions): Promise<ContractStores>;
}

/** One test's database, as the suite's modules see it. */
export interface ContractDb {
  store: Store;
  clock: ManualClock;
  another(): Promise<Store>;
  reader(): Promise<Store>;
}

export type OpenDb = (options?: { clock?: ManualClock; random?: () => number; recoveryLimit?: number }) => Promise<ContractDb>;

/**
 * Opens databases for the tests of the enclosing describe block and closes
 * every store they handed out when each test ends. Call it inside a describe.
 * The default jitter is 0.5, so a test that does not care still gets the same
 * backoff on every run.
 */
export function contractHarness(factory: StoreFactory): OpenDb {
  const opened: Store[] = [];
  const databases: ContractStores[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0).reverse()) await store.close();
    for (const database of databases.splice(0)) await database.dispose?.();
  });
  return async (options = {}) => {
    const clock = options.clock ?? new ManualClock();
    const stores = await factory.open({ clock, random: options.random ?? (() => 0.5), recoveryLimit: options.recoveryLimit });
    databases.push(stores);
    opened.push(stores.store);
    const track = async (opening: Promise<Store>) => {
      const store = await opening;
      opened.push(store);
      return store;
    };
    return { store: stores.store, clock, another: () => track(stores.another()), reader: () => track(stores.reader()) };
  };
}
