/**
 * Asking the person at the terminal to decide gates, without stopping the
 * world while they think. One gate is asked at a time; the others wait their
 * turn. While a question is open, lines about the run are printed above it
 * (the typed answer is kept). A gate decided elsewhere (another shell, the
 * HTTP API, the dashboard) closes its question at once, saying who decided
 * what; a decision made here that loses that race says so instead of
 * failing. Every decision goes through the one decision service. Ctrl-C at
 * any question is the same as Ctrl-C anywhere in the main job: stop cleanly.
 */
import { createInterface, type Interface } from "node:readline/promises";
import { GateNotPendingError } from "../core/errors.ts";
import { approveGate, defaultDecider, rejectGate } from "../services/gates.ts";
import type { GateRecord, Store } from "../store/types.ts";
import { printGate } from "./commands/gates.ts";
import { gateStatus } from "../view/gate.ts";
import type { Output } from "./output.ts";

export interface GatePrompterOptions {
  store: Store;
  output: Output;
  /** Ctrl-C at a question. */
  onInterrupt: () => void;
}

export class GatePrompter {
  private readonly queue: GateRecord[] = [];
  private readonly offered = new Set<string>();
  private current: { gate: GateRecord; abort: AbortController; query: string } | null = null;
  private rl: Interface | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: GatePrompterOptions) {}

  /** True while a question is on the screen. */
  get asking(): boolean {
    return this.current !== null;
  }

  /** True while gates are being asked about or wait their turn: the live view stays off the screen. */
  get engaged(): boolean {
    return this.running !== null;
  }

  /** Queues a pending gate to ask about (once). */
  offer(gate: GateRecord): void {
    if (this.closed || this.offered.has(gate.id)) return;
    this.offered.add(gate.id);
    this.queue.push(gate);
    this.running ??= this.work().finally(() => (this.running = null));
  }

  /** A gate was decided or closed (its event came): drop its question, and say by whom. */
  settled(gate: GateRecord): void {
    const index = this.queue.findIndex((queued) => queued.id === gate.id);
    if (index >= 0) this.queue.splice(index, 1);
    if (this.current?.gate.id !== gate.id) return;
    this.print(`gate ${gate.id} was ${gateStatus(gate, Date.now())} — elsewhere; going on`);
    this.current.abort.abort();
  }

  /** A line about the run, above the open question (or plainly, when none is open). */
  print(line: string): void {
    if (!this.current || !this.rl) return this.options.output.out(line);
    this.options.output.write(`\r\x1b[2K${line}\n${this.current.query}${this.rl.line}`);
  }

  /** Closes any open question (the run ended, or Ctrl-C). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    this.current?.abort.abort();
    await this.running;
    this.rl?.close();
    this.rl = null;
  }

  private interface(): Interface {
    if (this.rl) return this.rl;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    rl.on("SIGINT", () => {
      this.current?.abort.abort();
      this.options.onInterrupt();
    });
    this.rl = rl;
    return rl;
  }

  private async work(): Promise<void> {
    for (let gate = this.queue.shift(); gate && !this.closed; gate = this.queue.shift()) {
      const fresh = await this.options.store.getGate(gate.id);
      if (fresh.state !== "pending") continue; // decided while it waited its turn
      await this.ask(fresh);
    }
  }

  /** One question and its answer; returns when decided here, elsewhere, later, or interrupted. */
  private async ask(gate: GateRecord): Promise<void> {
    const { output, store } = this.options;
    output.out("");
    printGate(output, gate, Date.now());
    const rl = this.interface();
    const question = async (query: string): Promise<string | null> => {
      const abort = new AbortController();
      this.current = { gate, abort, query };
      try {
        return (await rl.question(query, { signal: abort.signal })).trim();
      } catch {
        return null; // aborted: decided elsewhere, Ctrl-C, or the run ended
      } finally {
        this.current = null;
      }
    };
    const decide = async (decision: () => Promise<GateRecord>): Promise<void> => {
      try {
        const decided = await decision();
        output.out(`gate ${decided.id} ${gateStatus(decided, Date.now())}`);
      } catch (error) {
        if (!(error instanceof GateNotPendingError)) throw error;
        const now = await store.getGate(gate.id);
        output.out(`gate ${gate.id} was already ${gateStatus(now, Date.now())}; that decision stands`);
      }
    };
    for (;;) {
      const answer = (await question("approve? [y]es, [n]o (reject), [l]ater: "))?.toLowerCase();
      if (answer === null || answer === undefined) return;
      if (answer === "y" || answer === "yes") return decide(() => approveGate(store, gate.id, defaultDecider()));
      if (answer === "l" || answer === "later") {
        output.out(`left pending; decide later with \`farcaster approve ${gate.id}\` or \`farcaster reject ${gate.id} --reason ...\``);
        return;
      }
      if (answer === "n" || answer === "no") {
        let reason = "";
        while (!reason) {
          const typed = await question("reason (required): ");
          if (typed === null) return;
          reason = typed;
        }
        const retry = await question("retry the task with this feedback instead of failing it? [y/N]: ");
        if (retry === null) return;
        const action = retry.toLowerCase() === "y" || retry.toLowerCase() === "yes" ? "retry" : "fail";
        return decide(() => rejectGate(store, gate.id, { by: defaultDecider(), reason, action }));
      }
    }
  }
}
