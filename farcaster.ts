#!/usr/bin/env bun
/**
 * Farcaster's command line. Everything lives in src/: the commands in
 * src/cli/commands, the rules in src/core, the SQL in src/store.
 */
import { main } from "./src/cli/main.ts";

const code = await main(process.argv.slice(2));
// Exit even if abandoned workflow code (a released task's step) still holds timers open,
// but only after what we printed has reached the pipe.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
process.exit(code);
