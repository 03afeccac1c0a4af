/** Scratch space for one benchmark run, and watching a file grow. */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  path: string;
  /** A path inside it. */
  file(name: string): string;
  remove(): void;
}

/** A fresh directory under the system temp directory; `remove` deletes it and everything in it. */
export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/**
 * Samples a file's size every 25 ms until stopped and returns the largest
 * seen. On a WAL, it tells whether checkpoints keep up.
 */
export function peakSize(path: string): { stop(): number } {
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, statSync(path).size);
    } catch {
      // not created yet, or removed by the last connection's close
    }
  };
  const timer = setInterval(sample, 25);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
