/**
 * CLI start-up: the wall time of short farcaster commands, each a fresh Bun
 * process, as a user at a terminal (or a script calling the CLI in a loop)
 * pays it. Another checkout (--farcaster-b DIR) runs interleaved with this
 * one, call for call, and the table gives each command's median and the
 * ratio. Bare `bun -e 0` is the floor: a process that imports nothing.
 *
 *   bun run bench/startup.ts [--runs 15] [--farcaster-b DIR]
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { count } from "./lib/args.ts";
import { tempDir } from "./lib/files.ts";
import { commitInfo, describeMachine, machine } from "./lib/machine.ts";
import { Children } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { fixed, int, table } from "./lib/table.ts";

const { values } = parseArgs({ options: { runs: { type: "string" }, "farcaster-b": { type: "string" } } });
const runs = values.runs === undefined ? 15 : count("--runs", values.runs);
const ROOT = join(import.meta.dir, "..");
// Resolved here: the commands run in the scratch directory, where a relative path would point elsewhere.
const other = values["farcaster-b"] === undefined ? undefined : resolve(values["farcaster-b"]);
if (other !== undefined && !existsSync(join(other, "farcaster.ts"))) {
  console.error(`--farcaster-b: ${other} has no farcaster.ts; pass the folder of another checkout`);
  process.exit(2);
}
const checkouts = [{ name: "farcaster", dir: ROOT }, ...(other ? [{ name: "farcaster-b", dir: other }] : [])];
const children = new Children();
const scratch = tempDir("farcaster-startup-");
children.onInterrupt(() => scratch.remove()); // Ctrl-C leaves nothing behind either
const db = scratch.file("farcaster.db");

const COMMANDS: { label: string; args: string[] }[] = [
  { label: "--help", args: ["--help"] },
  { label: "status", args: ["status", "--db", db] },
  { label: "status --json", args: ["status", "--db", db, "--json"] },
  { label: "workers --json", args: ["workers", "--db", db, "--json"] },
];

async function wallMs(argv: string[]): Promise<number> {
  const started = performance.now();
  const proc = children.spawn(() => Bun.spawn(argv, { cwd: scratch.path, stdin: "ignore", stdout: "ignore", stderr: "pipe" }));
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  return performance.now() - started;
}

try {
  // The database is made once (by this checkout, with one run of one task nobody works on), so every call reads the same one.
  const plan = scratch.file("plan.json");
  await Bun.write(plan, JSON.stringify({ version: 1, goal: "startup", tasks: [{ id: "a", title: "a", workflow: "noop", input: {} }] }));
  await wallMs([process.execPath, join(ROOT, "farcaster.ts"), "run", plan, "--detach", "--db", db]);
  const floor: number[] = [];
  const times = new Map<string, number[]>();
  for (let run = 0; run < runs; run++) {
    floor.push(await wallMs([process.execPath, "-e", "0"]));
    for (const command of COMMANDS) {
      for (const checkout of run % 2 === 0 ? checkouts : [...checkouts].reverse()) {
        const key = `${checkout.name}\0${command.label}`;
        times.set(key, [...(times.get(key) ?? []), await wallMs([process.execPath, join(checkout.dir, "farcaster.ts"), ...command.args])]);
      }
    }
    if (process.stderr.isTTY) process.stderr.write(`\rrun ${run + 1}/${runs}`);
    else if (run === 0) process.stderr.write(`measuring ${runs} runs…\n`);
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  const m = machine();
  console.log(`# CLI start-up\n\n${describeMachine(m)}; ${checkouts.map((c) => `${c.name} ${commitInfo(c.dir)}`).join(", ")}; ${runs} runs, interleaved; bare \`bun -e 0\`: ${int(median(floor))} ms\n`);
  const headers = ["command", ...checkouts.map((c) => `${c.name} ms (median)`), ...(checkouts.length > 1 ? ["farcaster ÷ farcaster-b"] : [])];
  const rows = COMMANDS.map((command) => {
    const medians = checkouts.map((c) => median(times.get(`${c.name}\0${command.label}`)!));
    return [command.label, ...medians.map((v) => int(v)), ...(medians.length > 1 ? [`${fixed(medians[0]! / medians[1]!, 2)}×`] : [])];
  });
  console.log(table(headers, rows));
} finally {
  scratch.remove();
}
