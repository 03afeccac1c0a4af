/**
 * The processes a benchmark starts: spawned through one Children set, so
 * that none outlives the benchmark (Ctrl-C included), and each one's CPU time
 * reaches the meter once it has exited.
 */
import type { Subprocess } from "bun";

type Spawned = Subprocess<"ignore" | "pipe" | "inherit", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">;

export class Children {
  private readonly live = new Set<Spawned>();

  /** `exited` hears of every child once it has exited (a CPU meter, say). */
  constructor(private readonly exited: (child: Spawned) => void = () => {}) {}

  spawn<T extends Spawned>(start: () => T): T {
    const child = start();
    this.live.add(child);
    void child.exited.then(() => {
      if (this.live.delete(child)) this.exited(child);
    });
    return child;
  }

  /** Runs `cmd` to its end and parses its stdout as JSON; a non-zero exit throws with its stderr. */
  async json<T>(cmd: string[], what: string, options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<{ value: T; stderr: string }> {
    const child = this.spawn(() => Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...options }));
    // spawn's own handler on `exited` was registered first: the meter has heard of the exit when this resolves.
    const [output, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`${what} exited with code ${code}:\n${stderr.trim()}`);
    try {
      return { value: JSON.parse(output) as T, stderr };
    } catch (error) {
      throw new Error(`${what} printed no JSON result: ${output.slice(0, 300)}\n${stderr.trim()}`, { cause: error });
    }
  }

  /** Sends `signal` to every child still running. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    for (const child of this.live) child.kill(signal);
  }

  /**
   * Ctrl-C: kills every child, runs `cleanup` (remove the temp directory)
   * and exits 130. Also kills the children when the benchmark itself exits.
   */
  onInterrupt(cleanup: () => void): void {
    process.on("SIGINT", () => {
      this.kill();
      cleanup();
      process.exit(130);
    });
    process.on("exit", () => this.kill());
  }
}

/** Polls `check` every `intervalMs` until it returns a value; throws after `timeoutMs`. */
export async function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string, intervalMs = 2): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(intervalMs);
  }
}

/** The first few lines of a process's stderr, as one line for a list of problems. */
export function firstLines(text: string, lines = 3): string {
  return text.trim().split("\n").slice(0, lines).join(" | ");
}
