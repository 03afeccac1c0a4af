/**
 * The dashboard at work: reads what the current route shows through a
 * read-only store, re-reading only when the database changed (the store's
 * change token: PRAGMA data_version on SQLite, a few microseconds, polled
 * every POLL_MS); turns keys into state and commands (src/tui/state.ts);
 * carries commands out through the decision service; draws at most
 * MAX_DRAWS_PER_SECOND times a second, and once a second for the clocks.
 */
import type { CliRenderer, KeyEvent } from "@opentui/core";
import type { RejectAction } from "../core/states.ts";
import type { GateRecord, RunRecord, Store } from "../store/types.ts";
import { gateSubject } from "../view/gate.ts";
import { Source, type ScreenData } from "./data.ts";
import { keyFrom, type Key } from "./keys.ts";
import { DashboardView } from "./render.ts";
import { buildScreen, type Screen } from "./screen.ts";
import { currentRoute, handleKey, initialState, withMessage, type Command, type UiState } from "./state.ts";

/** How often the change token is looked at: the 100–250 ms, at a few µs a look. */
export const POLL_MS = 150;
export const MAX_DRAWS_PER_SECOND = 10;
/** Redrawn this often even without a change: elapsed times and lease time left move on. */
const CLOCK_MS = 1_000;

/** What a person decides from the dashboard; the CLI and the HTTP API decide through the same service. */
export interface Decisions {
  approve(gateId: string): Promise<GateRecord>;
  reject(gateId: string, reason: string, action: RejectAction): Promise<GateRecord>;
  cancel(runId: string): Promise<RunRecord>;
}

export interface DashboardOptions {
  renderer: CliRenderer;
  /** A read-only store: the dashboard never writes through it. */
  store: Store;
  decisions: Decisions;
  /** Open this run first (Esc goes back to the list of runs). */
  runId?: string;
  color: boolean;
  pollMs?: number;
  now?: () => number;
}

export class Dashboard {
  private ui: UiState;
  private data: ScreenData | null = null;
  private screen: Screen;
  private readonly view: DashboardView;
  private readonly source: Source;
  private readonly now: () => number;
  private token = -1;
  private loadedRoute = "";
  private loading: Promise<void> | null = null;
  private again = false;
  private deciding = false;
  private lastDraw = 0;
  private drawTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private stopped = false;
  private quit!: () => void;
  /** Resolves when the person quits (q, Ctrl-C), or after an unexpected error (see `error`). */
  readonly finished: Promise<void>;
  private failure: Error | null = null;
  private readonly onKeypress = (event: KeyEvent) => this.onKey(keyFrom(event));
  private readonly onResize = () => this.requestDraw(true);

  constructor(private readonly options: DashboardOptions) {
    this.now = options.now ?? Date.now;
    this.ui = initialState(options.runId);
    this.view = new DashboardView(options.renderer, options.color);
    this.source = new Source(options.store);
    this.screen = this.build();
    this.finished = new Promise((resolve) => (this.quit = resolve));
  }

  /** Reads, draws, and starts following the database and the keys. */
  async start(): Promise<void> {
    const { renderer } = this.options;
    renderer.keyInput.on("keypress", this.onKeypress);
    renderer.on("resize", this.onResize);
    this.requestDraw(true);
    await this.refresh();
    this.timers.push(setInterval(() => this.poll(), this.options.pollMs ?? POLL_MS));
    this.timers.push(setInterval(() => this.requestDraw(), CLOCK_MS));
  }

  /** Stops reading and drawing; the caller destroys the renderer (which restores the terminal). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.drawTimer) clearTimeout(this.drawTimer);
    this.options.renderer.keyInput.off("keypress", this.onKeypress);
    this.options.renderer.off("resize", this.onResize);
    await this.loading;
  }

  /** What ended the dashboard, if not the person: the caller gives the terminal back, then reports it. */
  get error(): Error | null {
    return this.failure;
  }

  /** The state, for tests. */
  get state(): Readonly<UiState> {
    return this.ui;
  }

  private routeKey(): string {
    const route = currentRoute(this.ui);
    return JSON.stringify(route.kind === "gate" ? route : { ...route, pane: undefined });
  }

  private poll(): void {
    if (this.stopped) return;
    if (this.options.store.changeToken() !== this.token || this.routeKey() !== this.loadedRoute) void this.refresh();
  }

  /** Reads the current route again; a call while a read is under way asks for one more after it. */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        const route = currentRoute(this.ui);
        const key = this.routeKey();
        // Taken before the read: a commit during the read is seen at the next poll.
        const token = this.options.store.changeToken();
        try {
          this.data = await this.source.load(route, this.now());
          this.token = token;
          this.loadedRoute = key;
        } catch (error) {
          this.token = token;
          this.loadedRoute = key;
          this.ui = withMessage(this.ui, { text: `could not read the database: ${(error as Error).message}`, tone: "error" });
        }
        if (this.stopped) return;
        this.requestDraw();
      } while (this.again || this.routeKey() !== this.loadedRoute);
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private build(): Screen {
    const { renderer } = this.options;
    return buildScreen(this.data, this.ui, { width: renderer.width, height: renderer.height }, this.now());
  }

  /** Draws now if the last draw is old enough, else once when it is: at most MAX_DRAWS_PER_SECOND. */
  private requestDraw(now = false): void {
    if (this.stopped) return;
    const wait = this.lastDraw + 1_000 / MAX_DRAWS_PER_SECOND - performance.now();
    if (now || wait <= 0) {
      if (this.drawTimer) clearTimeout(this.drawTimer);
      this.drawTimer = null;
      this.draw();
    } else this.drawTimer ??= setTimeout(() => {
      this.drawTimer = null;
      this.draw();
    }, wait);
  }

  /**
   * A bug in drawing or in the keys must not leave a half-working screen (or
   * one that has taken the terminal for good): it ends the dashboard, so the
   * caller gives the terminal back and reports the error.
   */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.quit();
    }
  }

  private draw(): void {
    this.guarded(() => {
      this.lastDraw = performance.now();
      this.screen = this.build();
      this.view.draw(this.screen);
    });
  }

  private onKey(key: Key): void {
    if (this.stopped) return;
    this.guarded(() => this.handle(key));
  }

  private handle(key: Key): void {
    const result = handleKey(this.ui, key, this.screen.view);
    this.ui = result.ui;
    // The next key acts on what this one changed, whether or not it was drawn yet.
    this.screen = this.build();
    if (result.command) this.run(result.command);
    if (this.routeKey() !== this.loadedRoute) void this.refresh();
    this.requestDraw();
  }

  private run(command: Command): void {
    if (command.kind === "quit") {
      this.quit();
      return;
    }
    if (this.deciding) {
      this.ui = withMessage(this.ui, { text: "still recording the last decision…", tone: "error" });
      return;
    }
    this.deciding = true;
    const { decisions } = this.options;
    const work = async (): Promise<string> => {
      switch (command.kind) {
        case "approve": {
          this.ui = withMessage(this.ui, { text: `approving ${command.gateId}…`, tone: "info" });
          const gate = await decisions.approve(command.gateId);
          return `approved ${gate.id} (${gateSubject(gate)}) as ${gate.decidedBy}`;
        }
        case "reject": {
          this.ui = withMessage(this.ui, { text: `rejecting ${command.gateId}…`, tone: "info" });
          const gate = await decisions.reject(command.gateId, command.reason, command.action);
          return `rejected ${gate.id} as ${gate.decidedBy}: the task will ${gate.action === "retry" ? "retry with your feedback" : "fail"}`;
        }
        case "cancel": {
          this.ui = withMessage(this.ui, { text: `cancelling ${command.runId}…`, tone: "info" });
          const run = await decisions.cancel(command.runId);
          return `run ${run.id} is ${run.state}`;
        }
      }
    };
    void work()
      .then(
        (text) => (this.ui = withMessage(this.ui, { text, tone: "info" })),
        (error) => (this.ui = withMessage(this.ui, { text: (error as Error).message, tone: "error" })),
      )
      .finally(() => {
        this.deciding = false;
        if (this.stopped) return;
        void this.refresh();
      });
  }
}
