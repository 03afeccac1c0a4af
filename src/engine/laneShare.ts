/**
 * A drone's share of the store's write lanes: how many of its claim loops
 * claim now, and the slots each has.
 *
 * The lanes are the server's to share: a drone alone on the database claims
 * in all of them; drones that share it take an equal part, one lane at least
 * each (several drones already overlap each other's transactions, and more
 * transactions in flight only contend: bench/README.md, "Write lanes"). A
 * census of the other drones holding leases sets the part: every CENSUS_MS
 * while the count changes the part, half as often each time it does not
 * (down to one in CENSUS_MAX_STRIDE), since every drone's census reads every
 * lease. The drone's slots are spread over the lanes open, whatever their
 * number: a drone sharing the database keeps all its slots in the lanes it
 * has open, so fewer transactions are in flight, each with a larger batch
 * (bench/README.md, "Slots per lane, and a shared drone keeps its slots").
 *
 * One lane is open at first; the others open when a census finds no other
 * drone. Drones started together mostly find each other before they open
 * more than one, because the first census follows the first claim that
 * found work (the ticker's come every CENSUS_MS after).
 */
import type { Ticker } from "../core/clock.ts";
import type { Store } from "../store/types.ts";

/** How often, at the most, a drone with several lanes counts the other drones holding leases. */
const CENSUS_MS = 250;

/**
 * A census that changed nothing doubles the ticks to the next one, up to this
 * many (2 s). Each reads every lease of every drone, so together they cost the
 * server the drones squared (at 4 drones, one every 250 ms took 3.9 ms a count,
 * 5% of the statement time per task); and a drone that joins finds its own
 * part at its first claim, the others theirs within the stride.
 */
export const CENSUS_MAX_STRIDE = 8;

export interface LaneShareOptions {
  store: Store;
  /** The drone whose share it is (its own leases are not counted). */
  worker: string;
  /** The drone's claim loops (at most the store's lanes). */
  lanes: number;
  /** The drone's slots, spread over the open lanes. */
  concurrency: number;
  ticker: Ticker;
  /** The open lanes changed: the drone wakes its claim loops. */
  onChange: () => void;
}

export class LaneShare {
  private readonly options: LaneShareOptions;
  private openLanes = 1;
  private census: Promise<void> | null = null;
  /** Census ticks between two counts now (1 up to CENSUS_MAX_STRIDE), and the ticks left to the next. */
  private stride = 1;
  private ticksToCensus = 1;
  private firstCensusDue: boolean;
  private stopTicks: () => void = () => {};
  private stopped = false;

  constructor(options: LaneShareOptions) {
    this.options = options;
    this.firstCensusDue = options.lanes > 1;
  }

  /** Lanes claiming now (the others finish what they hold, then wait). */
  get open(): number {
    return this.openLanes;
  }

  /** The slots of lane `index`: an equal part of the drone's; a closed lane has none. */
  slotsOf(index: number): number {
    const { concurrency } = this.options;
    if (index >= this.openLanes) return 0;
    return Math.floor(concurrency / this.openLanes) + (index < concurrency % this.openLanes ? 1 : 0);
  }

  /** Starts the census ticks (a drone with one lane has nothing to share). */
  start(): void {
    if (this.options.lanes > 1) this.stopTicks = this.options.ticker.every(CENSUS_MS, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.stopTicks();
  }

  /** A claim found work: the first census is taken now. */
  foundWork(): void {
    if (!this.firstCensusDue) return;
    this.firstCensusDue = false;
    void this.take();
  }

  /** The ticker's call: a census when its stride of ticks has passed. */
  private tick(): Promise<void> {
    if (--this.ticksToCensus > 0) return Promise.resolve();
    return this.take();
  }

  /**
   * Counts the other drones holding leases and sets the lanes open to this
   * drone's share. A count that changes it brings the next one back to the
   * next tick; one that does not (or fails: the next one may not) doubles
   * the stride. Resolves when it is done (a manual ticker's tick waits for it).
   */
  private take(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.census) return this.census;
    const { store, worker, lanes } = this.options;
    this.census = store
      .countOtherLeaseHolders(worker)
      .then((others) => Math.max(1, Math.min(lanes, Math.floor(store.lanes / (others + 1)))), () => this.openLanes)
      .then((open) => {
        const changed = open !== this.openLanes && !this.stopped;
        this.stride = changed ? 1 : Math.min(CENSUS_MAX_STRIDE, this.stride * 2);
        this.ticksToCensus = this.stride;
        if (!changed) return;
        this.openLanes = open;
        this.options.onChange();
      })
      .finally(() => (this.census = null));
    return this.census;
  }
}
