/**
 * The store host: the one process that writes to a SQLite file for the
 * others. Clients on the same machine send it their writes over a Unix
 * socket; it applies them through its own store, so every process's writes
 * join its group commit, and its page cache stays warm (a second writing
 * process would make each transaction start cold: SQLite drops a
 * connection's cache whenever another connection has written).
 *
 * Only the Store's write methods may be called, the socket is the owner's
 * alone (mode 0600), and a client must name the same database file.
 */
import { chmodSync } from "node:fs";
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import type { Store } from "../../types.ts";
import { decode, encode, requestArgs, toWireError, type Request } from "./wire.ts";
import { LineBuffer, Outbox } from "./lines.ts";

/** The Store methods a client may ask the host to run: its writes. */
export const WRITE_METHODS = [
  "createRun",
  "createPlanningRun",
  "createPlanningRunOnce",
  "claimTasks",
  "extendLease",
  "renewLeases",
  "recordStep",
  "completeTask",
  "failTask",
  "suspendTask",
  "releaseTask",
  "cancelRun",
  "resumeRun",
  "decideGate",
  "appendLogs",
  "createSchedule",
  "setScheduleEnabled",
  "deleteSchedule",
  "fireSchedule",
  "recordScheduleMissed",
  "emitSignal",
] as const satisfies readonly (keyof Store)[];
export type WriteMethod = (typeof WRITE_METHODS)[number];

/**
 * The Store members every process serves itself: reads on its own
 * connection, its change feed, its settings, closing. With WRITE_METHODS
 * they name every member of the Store, which the compiler checks below: a
 * write added to the Store and to neither list would otherwise run on a
 * client's own connection, a second writer on the file (correct, but with
 * the cold cache this module exists to avoid).
 */
export const LOCAL_MEMBERS = [
  "dialect", "readOnly", "lanes", "laneSlots", "isClosed", "attemptEnded", "close",
  "getRun", "listRuns", "listTasks", "getTask", "findTask", "listAttempts", "listSteps", "dependencyOutputs",
  "listEvents", "readRun", "readRunSummary", "countTasksByState", "listDrones", "listOpenTasks", "describeDatabase",
  "readMetrics", "countOtherLeaseHolders", "tailEvents", "followEvents", "nextDueAt", "changeToken", "waitForChange", "runBudget",
  "runModelUsage", "getGate", "listGates", "listLogs", "tailLogs", "followLogs", "getSchedule", "listSchedules",
  "listScheduleEvents", "getSignal",
] as const satisfies readonly (keyof Store)[];

/** Never, as long as the two lists cover the Store: a member in neither fails to compile here. */
type Unclassified = Exclude<keyof Store, WriteMethod | (typeof LOCAL_MEMBERS)[number]>;
/** Never, as long as no member is in both. */
type InBoth = Extract<WriteMethod, (typeof LOCAL_MEMBERS)[number]>;
const everyMemberClassified: [Unclassified, InBoth] extends [never, never] ? true : { unclassified: Unclassified; inBoth: InBoth } = true;
void everyMemberClassified;

const ALLOWED = new Set<string>(WRITE_METHODS);

interface ClientState {
  lines: LineBuffer;
  outbox: Outbox;
  greeted: boolean;
  pending: number;
}

export class StoreHost {
  private readonly clients = new Set<Socket<ClientState>>();
  private changedQueued = false;
  private inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly server: UnixSocketListener<ClientState> | TCPSocketListener<ClientState>,
    private readonly store: Store,
    private readonly dbPath: string,
  ) {}

  /** Listens at `socketPath`; throws (EADDRINUSE) when another process does. */
  static listen(store: Store, socketPath: string, dbPath: string): StoreHost {
    let host: StoreHost;
    const server = Bun.listen<ClientState>({
      unix: socketPath,
      socket: {
        open: (socket) => {
          socket.data = { lines: new LineBuffer(), outbox: new Outbox((text) => socket.write(text)), greeted: false, pending: 0 };
          host.clients.add(socket);
        },
        data: (socket, chunk) => {
          for (const line of socket.data.lines.push(chunk)) host.handle(socket, line);
        },
        drain: (socket) => socket.data.outbox.drain(),
        end: (socket) => {
          host.forget(socket);
          socket.end();
        },
        close: (socket) => host.forget(socket),
        error: (socket) => host.forget(socket),
      },
    });
    host = new StoreHost(server, store, dbPath);
    chmodSync(socketPath, 0o600);
    return host;
  }

  private forget(socket: Socket<ClientState>): void {
    this.clients.delete(socket);
    socket.data?.outbox.discard();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private handle(socket: Socket<ClientState>, line: string): void {
    let request: Request;
    try {
      request = decode<Request>(line);
    } catch {
      return void socket.end();
    }
    if ("hello" in request) {
      if (request.hello.db !== this.dbPath) {
        socket.data.outbox.send(encode({ refused: `this host writes ${this.dbPath}, not ${request.hello.db}` }));
        return void socket.end();
      }
      socket.data.greeted = true;
      return socket.data.outbox.send(encode({ welcome: { pid: process.pid } }));
    }
    const { id, method } = request;
    const args = requestArgs(request);
    if (!socket.data.greeted || !ALLOWED.has(method)) {
      return socket.data.outbox.send(encode({ id, ok: false, error: { name: "Error", message: `the store host does not run "${method}"` } }));
    }
    const call = (this.store[method as WriteMethod] as (...a: unknown[]) => Promise<unknown>).apply(this.store, args);
    this.inFlight.add(call);
    // One reaction per request, not a .finally on top: every step and completion of the other workers passes here.
    call.then(
      (value) => {
        this.inFlight.delete(call);
        socket.data.outbox.send(encode({ id, ok: true, value }));
      },
      (error: unknown) => {
        this.inFlight.delete(call);
        socket.data.outbox.send(encode({ id, ok: false, error: toWireError(error) }));
      },
    );
  }

  /** The host's store committed: tell every client once per turn, so their followers and idle drones look again. */
  committed(): void {
    if (this.changedQueued || this.clients.size === 0) return;
    this.changedQueued = true;
    queueMicrotask(() => {
      this.changedQueued = false;
      const message = encode({ changed: true });
      for (const socket of this.clients) if (socket.data?.greeted) socket.data.outbox.send(message);
    });
  }

  /**
   * Stops taking requests, answers the ones already taken, then closes every
   * connection: the clients elect a new host among themselves and send again
   * what they had not heard back about.
   */
  async close(): Promise<void> {
    this.server.stop(false);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await Promise.all([...this.clients].map((socket) => socket.data.outbox.flushed().then(() => socket.end())));
    this.server.stop(true);
  }
}
