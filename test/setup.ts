/**
 * Preloaded before every test file (bunfig.toml): tests are hermetic.
 * - databases go to a private temp directory, never to ./.farcaster
 * - provider API keys and endpoints are removed, so no test can reach a real model
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";

const root = mkdtempSync(join(tmpdir(), "farcaster-test-"));
process.env.FARCASTER_TEST_DIR = root;
process.env.FARCASTER_DB = join(root, "default.db");
for (const name of Object.keys(process.env)) {
  if (/^(OPENAI|ANTHROPIC|GOOGLE_GENERATIVE_AI|MISTRAL|GROQ|XAI|AI_GATEWAY)_/.test(name) || name === "FARCASTER_MODEL" || name === "FARCASTER_TOKEN") {
    delete process.env[name];
  }
}

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
