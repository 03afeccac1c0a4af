/**
 * Preloaded before every test file (bunfig.toml): tests are hermetic and release what they open.
 * - databases go to a private temp directory, never to ./.farcaster; the search for one
 *   (src/store/index.ts) never goes up into that directory, so a stray
 *   .farcaster/farcaster.db above it (in /tmp, say) is never seen, let alone written
 * - provider API keys and endpoints are removed, so no test can reach a real model
 * - every store a test opened is closed when the test ends (test/fixtures/stores.ts)
 * - every subprocess a test started and left running is killed when it ends (test/fixtures/processes.ts)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach } from "bun:test";
import { reapSpawned, trackSpawns } from "./fixtures/processes.ts";
import { leakedStores, testEnded, testStarted } from "./fixtures/stores.ts";

const root = mkdtempSync(join(tmpdir(), "farcaster-test-"));
process.env.FARCASTER_TEST_DIR = root;
process.env.FARCASTER_DB = join(root, "default.db");
process.env.FARCASTER_CEILING_DIRECTORIES = root;
for (const name of Object.keys(process.env)) {
  if (/^(OPENAI|ANTHROPIC|GOOGLE_GENERATIVE_AI|MISTRAL|GROQ|XAI|AI_GATEWAY)_/.test(name) || name === "FARCASTER_MODEL" || name === "FARCASTER_TOKEN") {
    delete process.env[name];
  }
}

trackSpawns();
beforeEach(testStarted);
afterEach(async () => {
  await reapSpawned();
  await testEnded();
});

afterAll(async () => {
  await reapSpawned();
  const leaked = await leakedStores();
  // The PostgreSQL tests' schemas and connection (test/fixtures/pg.ts), if this file used them.
  if ((globalThis as { __farcasterPg?: unknown }).__farcasterPg) await (await import("./fixtures/pg.ts")).cleanupPg();
  rmSync(root, { recursive: true, force: true });
  if (leaked.length > 0) throw new Error(`stores opened outside a test were never closed (close them in afterAll): ${leaked.join(", ")}`);
});
