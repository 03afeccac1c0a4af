#!/usr/bin/env bun
/**
 * Farcaster's command line. Everything lives in src/: the commands in
 * src/cli/commands, the rules in src/core, the SQL in src/store.
 */
import { main } from "./src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
