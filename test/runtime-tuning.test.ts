/**
 * A command that runs drones starts again in the runtime drones run best
 * with (src/cli/runtimeTuning.ts): the same process, its environment
 * completed. Checked on real `farcaster worker` processes through /proc
 * (what the kernel says the process's environment and command line are).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bunOptionTokens, DRONE_RUNTIME_ENV, restartFlags, TUNED_MARKER, tunedEnvironment } from "../src/cli/runtimeTuning.ts";
import { ENTRY, spawnFarcaster } from "./cli-helpers.ts";
import { freshDir, until } from "./helpers.ts";

describe("which commands are tuned", () => {
  const env = { PATH: "/usr/bin", HOME: "/home/x" };

  test("worker, serve, run, resume and the main job get the drone runtime; everything else is kept", () => {
    for (const args of [["worker"], ["serve", "--port", "0"], ["run", "plan.json"], ["resume", "r1"], ["goal.md"], ["./plans/p.json", "--yes"]]) {
      expect(tunedEnvironment(args, env)).toEqual({ ...env, ...DRONE_RUNTIME_ENV, [TUNED_MARKER]: "1" });
    }
  });

  test("short commands, help and `run --detach` (which runs no drone) are not started again", () => {
    for (const args of [[], ["status"], ["--help"], ["worker", "--help"], ["run", "plan.json", "--detach"], ["gates", "--json"], ["tui"]]) {
      expect(tunedEnvironment(args, env)).toBeNull();
    }
  });

  test("a setting the user made is kept, and only what is missing is added", () => {
    const next = tunedEnvironment(["worker"], { ...env, MIMALLOC_PURGE_DELAY: "10" });
    expect(next?.MIMALLOC_PURGE_DELAY).toBe("10");
    expect(next?.BUN_JSC_useFTLJIT).toBe("false");
    expect(tunedEnvironment(["worker"], { ...env, ...DRONE_RUNTIME_ENV })).toBeNull(); // all there: no second start
  });

  test("the marker stops it: once tuned (no loop), or FARCASTER_RUNTIME_TUNED=0 to run untuned", () => {
    expect(tunedEnvironment(["worker"], { ...env, [TUNED_MARKER]: "1" })).toBeNull();
    expect(tunedEnvironment(["worker"], { ...env, [TUNED_MARKER]: "0" })).toBeNull();
  });
});

describe("when the process is not replaced, and with which flags it is", () => {
  test("a profiler or a debugger holds the process: it runs on untuned", () => {
    for (const flag of ["--cpu-prof", "--cpu-prof-md", "--heap-prof", "--inspect", "--inspect-brk=9229", "--inspect-wait"]) {
      expect(restartFlags(["--smol", flag], {})).toBeNull();
    }
    expect(restartFlags(["--smol"], {})).toEqual(["--smol"]);
    expect(restartFlags([], {})).toEqual([]);
  });

  test("BUN_OPTIONS' flags lead execArgv and are read again from the environment: left out, so they apply once", () => {
    expect(bunOptionTokens("  --smol   --title=\"x y\" --cpu-prof-dir='/tmp/a b' ")).toEqual(["--smol", '--title="x y"', "--cpu-prof-dir='/tmp/a b'"]);
    expect(restartFlags(["--smol", "--preload=./p.ts", "--hot"], { BUN_OPTIONS: "--smol --preload=./p.ts" })).toEqual(["--hot"]);
    expect(restartFlags(["--smol"], { BUN_OPTIONS: "" })).toEqual(["--smol"]);
    // Not as expected (this Bun placed them elsewhere): not replaced rather than apply them twice.
    expect(restartFlags(["--hot", "--smol"], { BUN_OPTIONS: "--smol" })).toBeNull();
    expect(restartFlags(["--smol"], { BUN_OPTIONS: "--cpu-prof" })).toBeNull();
  });
});

/** The environment of a running process, as the kernel has it. */
function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

async function startWorker(env: Record<string, string> = {}) {
  const cwd = freshDir();
  const job = spawnFarcaster(["worker", "--db", join(cwd, "farcaster.db")], { cwd, env });
  await until(() => job.seen.includes("slots"), 20_000, "the worker's first line");
  return job;
}

async function stop(job: Awaited<ReturnType<typeof startWorker>>) {
  job.proc.kill("SIGTERM");
  const [code, stderr] = await Promise.all([job.proc.exited, job.stderr]);
  return { code, stderr };
}

describe.skipIf(process.platform !== "linux")("a real worker process", () => {
  test("runs tuned under the pid it was started with, and its signals still reach the drone", async () => {
    const job = await startWorker();
    try {
      const env = environOf(job.proc.pid);
      expect(env.MIMALLOC_PURGE_DELAY).toBe("-1");
      expect(env.BUN_JSC_useFTLJIT).toBe("false");
      expect(env[TUNED_MARKER]).toBe("1");
      expect(cmdlineOf(job.proc.pid).slice(1)).toEqual([ENTRY, "worker", "--db", expect.stringContaining("farcaster.db")]);
    } finally {
      const { code, stderr } = await stop(job);
      expect(stderr).toContain("SIGTERM, finishing 0 running task(s)"); // the drone's own handler, not a wrapper's
      expect(code).toBe(0);
    }
  });

  test("keeps the user's own setting and the runtime's flags (bun --smol)", async () => {
    const cwd = freshDir();
    const proc = Bun.spawn([process.execPath, "--smol", ENTRY, "worker", "--db", join(cwd, "farcaster.db")], {
      cwd, env: { ...process.env, MIMALLOC_PURGE_DELAY: "25" }, stdin: "ignore", stdout: "pipe", stderr: "ignore",
    });
    try {
      await until(() => environOf(proc.pid)[TUNED_MARKER] === "1", 20_000, "the tuned start");
      expect(environOf(proc.pid).MIMALLOC_PURGE_DELAY).toBe("25");
      expect(cmdlineOf(proc.pid).slice(1, 3)).toEqual(["--smol", ENTRY]);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
      expect(proc.signalCode).toBe("SIGKILL");
    }
  });

  test("under bun --cpu-prof it runs untuned, and lives (a replaced image died of the profiler's pending SIGPWR, exit 158)", async () => {
    const cwd = freshDir();
    const profiles = join(cwd, "profiles");
    const proc = Bun.spawn(
      [process.execPath, "--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${profiles}`, ENTRY, "worker", "--db", join(cwd, "farcaster.db")],
      { cwd, env: process.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    let seen = "";
    const stdout = (async () => {
      for await (const chunk of proc.stdout) seen += new TextDecoder().decode(chunk);
    })();
    const stderr = new Response(proc.stderr).text();
    try {
      await until(() => seen.includes("slots") || proc.exitCode !== null || proc.signalCode !== null, 20_000, "the worker's first line");
      expect({ exitCode: proc.exitCode, signalCode: proc.signalCode }).toEqual({ exitCode: null, signalCode: null });
      expect(environOf(proc.pid)[TUNED_MARKER]).toBeUndefined();
      expect(environOf(proc.pid).MIMALLOC_PURGE_DELAY).toBeUndefined();
    } finally {
      proc.kill("SIGTERM");
      await Promise.all([proc.exited, stdout]);
    }
    expect(await stderr).toContain("SIGTERM, finishing 0 running task(s)");
    expect(proc.exitCode).toBe(0);
    expect(readdirSync(profiles).some((name) => name.endsWith(".cpuprofile"))).toBe(true);
  });

  test("BUN_OPTIONS applies once: the replaced process reads it from its environment, not again from its command line", async () => {
    const job = await startWorker({ BUN_OPTIONS: "--smol" });
    try {
      expect(environOf(job.proc.pid)[TUNED_MARKER]).toBe("1");
      expect(environOf(job.proc.pid).BUN_OPTIONS).toBe("--smol");
      expect(cmdlineOf(job.proc.pid).slice(1, 3)).toEqual([ENTRY, "worker"]);
    } finally {
      expect((await stop(job)).code).toBe(0);
    }
  });

  test("FARCASTER_RUNTIME_TUNED=0 runs it as it was started", async () => {
    const job = await startWorker({ [TUNED_MARKER]: "0" });
    try {
      expect(environOf(job.proc.pid).MIMALLOC_PURGE_DELAY).toBeUndefined();
      expect(environOf(job.proc.pid).BUN_JSC_useFTLJIT).toBeUndefined();
    } finally {
      expect((await stop(job)).code).toBe(0);
    }
  });
});
