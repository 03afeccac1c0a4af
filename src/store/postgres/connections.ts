/**
 * A PostgreSQL store's connections: a small pool for reads and one
 * connection for each write lane (lanes.ts), each a pool of its own so that a
 * lane's transactions always go through the same backend.
 *
 * Why so few: Bun.SQL spreads a pool's queries over every connection, and
 * each backend prepares and plans the store's statements for itself, so the
 * fewer connections the same work goes through, the less the server spends
 * (bench/README.md, "Write lanes": a pool of 2 against 4, one lane, four
 * drones: 1.21× at 20,000 tasks, 1.08× at 60,000, PostgreSQL's CPU per task
 * down a fifth). Bun.SQL connects a pool when it is first used, so a lane
 * that never writes never connects.
 */
import type { SQL } from "bun";
import { createPool, type ConnectOptions, type PgTarget } from "./database.ts";

export class PgConnections {
  private readPool: SQL;
  private readonly lanePools: SQL[];

  /** `reads`: the pool opened (and migrated through) first. */
  constructor(
    private readonly target: PgTarget,
    private readonly options: Omit<ConnectOptions, "max"> & { readConnections: number },
    lanes: number,
    reads: SQL,
  ) {
    this.readPool = reads;
    this.lanePools = Array.from({ length: lanes }, () => this.connect(1));
  }

  static readPool(target: PgTarget, options: Omit<ConnectOptions, "max"> & { readConnections: number }): SQL {
    return createPool(target, { ...options, max: options.readConnections });
  }

  /** Reads, and the change feed's catch-up. */
  get reads(): SQL {
    return this.readPool;
  }

  lane(index: number): SQL {
    return this.lanePools[index]!;
  }

  /**
   * Replaces a lane's connection whose batch hung, and the reads' (what hung
   * one hangs them too). The other lanes keep theirs: a batch of theirs
   * that is committing would otherwise end with its outcome unknown; if the
   * partition hangs them as well, their own deadlines replace them.
   */
  async reset(lane: number): Promise<void> {
    const old = [this.readPool, this.lanePools[lane]!];
    this.readPool = PgConnections.readPool(this.target, this.options);
    this.lanePools[lane] = this.connect(1);
    await Promise.all(old.map((pool) => pool.close({ timeout: 0 }).catch(() => {})));
  }

  async close(): Promise<void> {
    await Promise.all([this.readPool, ...this.lanePools].map((pool) => pool.close({ timeout: 5 }).catch(() => {})));
  }

  private connect(max: number): SQL {
    return createPool(this.target, { ...this.options, max });
  }
}
