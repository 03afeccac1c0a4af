#!/usr/bin/env bun
/**
 * Farcaster's command line. Everything lives in src/: the commands in
 * src/cli/commands, the rules in src/core, the SQL in src/store.
 */
import { tuneDroneRuntime } from "./src/cli/runtimeTuning.ts";

// Before anything else is loaded: a command that runs drones may replace this process with a tuned one.
tuneDroneRuntime();

const { main } = await import("./src/cli/main.ts");
const { consoleOutput } = await import("./src/cli/output.ts");
const output = consoleOutput();
const code = await main(process.argv.slice(2), output);
// Everything printed reaches the reader first (a pipe may still hold it: see output.ts);
// then exit, even if abandoned workflow code (a released task's step) still holds timers open.
await output.flush();
process.exit(code);
