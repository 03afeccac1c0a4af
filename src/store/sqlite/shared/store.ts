/**
 * A SQLite store that shares one writer among the processes of a machine.
 *
 * Each process keeps its own connection for reads. The first long-lived
 * process (a worker, the server, the main job) to open the file becomes its
 * host: it writes directly, through its group commit, and listens on a Unix
 * socket beside the file; the others send it their writes. Why: SQLite
 * drops a connection's page cache whenever another connection has written,
 * so with several writing processes every transaction starts cold and costs
 * several times more (measured in bench/peers.ts: four writing processes did
 * half the work of one); one writer keeps its cache warm and batches every
 * process's writes together.
 *
 * A process that could not join (the host did not answer its hello in time:
 * a host busy in a long synchronous transaction, such as inserting a plan of
 * 20,000 tasks, answers nobody for seconds) writes directly for now and tries
 * again later, as long as it lives: it joins the host once the host answers,
 * or hosts if the host went away. Four workers started while the first was
 * planning wrote directly for good before, at half the throughput of one.
 *
 * Correctness never rests on it: SQLite's locks still order every write, so
 * a second host (two processes racing to replace a dead one) or a process
 * writing directly (a short command such as `farcaster approve`) is only
 * slower, never wrong. When the host goes away its clients elect a new one
 * and send again the writes they had not heard back about; those writes are
 * safe to repeat (a step already recorded by the same attempt is accepted; a
 * completion already made comes back as a lost lease, which a drone takes
 * as "someone else finished it").
 */
import { createHash } from "node:crypto";
import { readdirSync, unlinkSync } from "node:fs";
import { getPriority, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../../types.ts";
import { SqliteStore, type SqliteStoreOptions } from "../store.ts";
import { StoreHost, WRITE_METHODS, type WriteMethod } from "./host.ts";
import { HELLO_TIMEOUT_MS, HostConnection, type PendingRequest } from "./remote.ts";

/** Unix socket paths are limited to about 100 bytes; beyond that the socket lives in the temp directory. */
const MAX_SOCKET_PATH = 100;

export function socketPathFor(dbPath: string): string {
  const beside = `${dbPath}.sock`;
  if (beside.length <= MAX_SOCKET_PATH) return beside;
  return join(tmpdir(), `farcaster-${createHash("sha256").update(dbPath).digest("hex").slice(0, 16)}.sock`);
}

export type SharedRole = { role: "host"; clients: number } | { role: "client"; hostPid: number } | { role: "direct"; why: string };

/** Why a store writes directly when no try could join a host or start one. */
const NO_HOST = "no host could be joined or started";
/** How many times an election is tried before this process just writes directly. */
const ELECTION_TRIES = 5;
/** While writing directly, the waits before each try to join (or become) the host again; the last repeats. */
const REJOIN_DELAYS_MS = [100, 250, 500, 1_000, 2_000];
/**
 * How long a try to rejoin waits for the host's answer. Long: the writes go
 * on directly meanwhile, and a busy host answers as soon as its turn ends,
 * so the store joins then rather than at its next try.
 */
const REJOIN_HELLO_TIMEOUT_MS = 30_000;

export interface SharingOptions {
  /** How long a host has to answer the hello (at an election: the writes wait for it). */
  helloTimeoutMs?: number;
  /** How long a host has to answer the hello of a try to rejoin (the writes go on directly). */
  rejoinHelloTimeoutMs?: number;
  /** The waits before each try to rejoin while writing directly; the last repeats. */
  rejoinDelaysMs?: readonly number[];
  /**
   * Niceness this process adds to itself when it first joins another
   * process's host (a worker: CLIENT_NICENESS). The host applies
   * every process's writes, so when the machine's CPUs are all busy what the
   * host waits for a CPU every process waits; beside it, a client's own work
   * can wait. Once added it stays: an unprivileged process cannot take
   * niceness back, and a client elected host later is no worse off than the
   * other clients, which are as nice. Default 0: unchanged.
   */
  clientNiceness?: number;
}

/** What a worker adds: with four workers on two cores the host waited for a CPU a quarter of the time (README.md, "More drones"). */
export const CLIENT_NICENESS = 10;

type Route = { kind: "host"; host: StoreHost } | { kind: "client"; connection: HostConnection } | { kind: "direct"; why: string };

export class SharedSqliteStore extends SqliteStore {
  private route: Route = { kind: "direct", why: "not elected yet" };
  private electing: Promise<void>;
  /** Set once an election is done and until the next begins: writes then take their route at once. */
  private elected = false;
  private closing = false;
  readonly socketPath: string;
  private readonly helloTimeoutMs: number;
  private readonly rejoinDelaysMs: readonly number[];
  private readonly rejoinHelloTimeoutMs: number;
  private rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  private rejoinTries = 0;
  private readonly clientNiceness: number;
  private yielded = false;
  private rejoining: Promise<void> = Promise.resolve();
  /** Ends a try to rejoin that is still waiting for the host's answer when the store closes. */
  private readonly closingSignal = new AbortController();

  constructor(path: string, options: SqliteStoreOptions & SharingOptions = {}) {
    super(path, { ...options, onCommit: () => this.hostCommitted() });
    this.socketPath = socketPathFor(path);
    this.helloTimeoutMs = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.rejoinDelaysMs = options.rejoinDelaysMs ?? REJOIN_DELAYS_MS;
    this.rejoinHelloTimeoutMs = options.rejoinHelloTimeoutMs ?? REJOIN_HELLO_TIMEOUT_MS;
    this.clientNiceness = options.clientNiceness ?? 0;
    this.electing = Promise.resolve();
    this.startElection();
  }

  private startElection(): void {
    this.elected = false;
    const electing: Promise<void> = this.elect().finally(() => {
      if (this.electing === electing) this.elected = true; // not an older election ending during a newer one
    });
    this.electing = electing;
  }

  /** Waits for the first election: tests and `farcaster workers` ask who writes. */
  async sharing(): Promise<SharedRole> {
    await this.electing;
    const route = this.route;
    if (route.kind === "host") return { role: "host", clients: route.host.clientCount };
    if (route.kind === "client") return { role: "client", hostPid: route.connection.hostPid };
    return { role: "direct", why: route.why };
  }

  private hostCommitted(): void {
    if (this.route.kind === "host") this.route.host.committed();
  }

  /** Join the host, or become it; replace a dead host's socket file. Failing that, write directly and try again later. */
  private async elect(): Promise<void> {
    for (let attempt = 0; attempt < ELECTION_TRIES && !this.closing; attempt++) {
      const outcome = await this.joinOrHost(this.helloTimeoutMs);
      if (outcome === "elected") return;
      if (outcome !== "retry") return this.writeDirectly(outcome);
    }
    this.writeDirectly(NO_HOST);
  }

  /** Writes go on directly, through this process's own connection, until a later try joins (or becomes) the host. */
  private writeDirectly(why: string): void {
    this.route = { kind: "direct", why };
    this.scheduleRejoin();
  }

  /** One try: "elected" (route set), "retry" (someone else just started hosting), or why it failed. */
  private async joinOrHost(helloTimeoutMs: number): Promise<"elected" | "retry" | string> {
    const joined = await HostConnection.connect(
      this.socketPath,
      this.path,
      { changed: () => this.noteChange(), lost: (pending) => this.hostLost(pending) },
      helloTimeoutMs,
      this.closingSignal.signal,
    );
    if (this.closing) {
      if ("connection" in joined) await joined.connection.close();
      return "the store is closing";
    }
    if ("connection" in joined) {
      this.route = { kind: "client", connection: joined.connection };
      this.yieldCpu();
      return "elected";
    }
    if (joined.absent === "refused") return `the host at ${this.socketPath} refused: ${joined.detail}`;
    if (joined.absent === "stale") {
      try {
        unlinkSync(this.socketPath); // a host that died left its socket file
      } catch {
        // another process removed it first
      }
    }
    try {
      this.route = { kind: "host", host: StoreHost.listen(this, this.socketPath, this.path) };
      return "elected";
    } catch {
      return "retry"; // someone else just started hosting: join them on the next try
    }
  }

  /**
   * While writing directly, try again later to join or become the host. The
   * writes go on directly meanwhile (the route changes only once joined), so
   * nothing waits for a host that is slow to answer.
   */
  private scheduleRejoin(): void {
    if (this.closing || this.rejoinTimer) return;
    const delay = this.rejoinDelaysMs[Math.min(this.rejoinTries++, this.rejoinDelaysMs.length - 1)]!;
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      if (this.closing || !this.elected || this.route.kind !== "direct") return;
      this.rejoining = this.joinOrHost(this.rejoinHelloTimeoutMs).then(
        (outcome) => {
          if (outcome === "elected") this.rejoinTries = 0;
          else if (this.route.kind === "direct") this.writeDirectly(outcome === "retry" ? NO_HOST : outcome);
        },
        () => this.scheduleRejoin(), // whatever failed, the writes go on directly: try again later
      );
    }, delay);
    this.rejoinTimer.unref?.(); // a store left open does not keep its process alive for this
  }

  /** Adds clientNiceness to this process's niceness, once (see SharingOptions.clientNiceness). */
  private yieldCpu(): void {
    if (this.yielded || this.clientNiceness <= 0) return;
    this.yielded = true;
    try {
      const niceness = Math.min(19, getPriority() + this.clientNiceness);
      // Linux keeps a niceness per thread: the threads already running (the JIT's, the GC's) are set one by one
      // (threads and commands started later inherit it). Elsewhere the call sets the process's.
      const threads = threadIds();
      if (threads.length === 0) setPriority(niceness);
      for (const thread of threads) {
        try {
          setPriority(thread, niceness);
        } catch {
          // a thread that ended meanwhile
        }
      }
    } catch {
      // Not allowed here (a sandbox without setpriority): the process runs on at its niceness, only less kind.
    }
  }

  private hostLost(pending: PendingRequest[]): void {
    if (this.closing) {
      for (const request of pending) request.reject(new Error("the store was closed before the host answered"));
      return;
    }
    this.route = { kind: "direct", why: "electing a new host" };
    this.startElection();
    // Sent again once a new host is known (or written here, if this process is it).
    for (const request of pending) void this.send(request.method as WriteMethod, request.args).then(request.resolve, request.reject);
    this.noteChange();
  }

  /**
   * A write: to the host when there is another one, else through this store.
   * Once elected, without an extra await: this is every write's path (a step,
   * a completion, a claim), and an async hop per write shows in the profile.
   */
  private send(method: WriteMethod, args: unknown[]): Promise<unknown> {
    if (!this.elected) return this.electing.then(() => this.send(method, args));
    const route = this.route;
    if (route.kind === "client") {
      // No change noted here: the host tells every client when a batch changed something (host.ts
      // committed), and a write that changed nothing (a claim that found none) must wake nobody.
      return new Promise((resolve, reject) => route.connection.request(method, args, resolve, reject));
    }
    try {
      return (SqliteStore.prototype[method] as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    } catch (error) {
      return Promise.reject(error); // a write fails as a rejection, never by throwing at its caller
    }
  }

  override async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.closingSignal.abort();
    await this.electing;
    await this.rejoining;
    const route = this.route;
    if (route.kind === "host") await route.host.close();
    if (route.kind === "client") await route.connection.close();
    await super.close();
  }
}

// Every write method of the Store goes through send(); reads stay on this process's connection.
for (const method of WRITE_METHODS) {
  Object.defineProperty(SharedSqliteStore.prototype, method, {
    value: function (this: SharedSqliteStore, ...args: unknown[]) {
      return (this as unknown as { send(m: WriteMethod, a: unknown[]): Promise<unknown> }).send(method, args);
    },
    writable: true,
    configurable: true,
  });
}

export type { Store };

/** This process's threads (Linux: /proc/self/task), or none where the system does not list them. */
function threadIds(): number[] {
  try {
    return readdirSync("/proc/self/task").map(Number);
  } catch {
    return [];
  }
}
