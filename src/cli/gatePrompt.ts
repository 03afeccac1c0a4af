/** Asking the person at the terminal to decide a gate. */
import { createInterface } from "node:readline/promises";
import { approveGate, defaultDecider, rejectGate } from "../services/gates.ts";
import type { GateRecord, Store } from "../store/types.ts";
import { printGate } from "./commands/gates.ts";
import type { Output } from "./output.ts";

/** Returns false when the person chose to decide later. */
export async function promptGate(store: Store, output: Output, gate: GateRecord): Promise<boolean> {
  output.out("");
  printGate(output, gate, Date.now());
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (;;) {
      const answer = (await rl.question("approve? [y]es, [n]o (reject), [l]ater: ")).trim().toLowerCase();
      if (answer === "y" || answer === "yes") {
        await approveGate(store, gate.id, defaultDecider());
        return true;
      }
      if (answer === "l" || answer === "later") {
        output.out(`left pending; decide later with \`farcaster approve ${gate.id}\` or \`farcaster reject ${gate.id} --reason ...\``);
        return false;
      }
      if (answer === "n" || answer === "no") {
        let reason = "";
        while (!reason) reason = (await rl.question("reason (required): ")).trim();
        const retry = (await rl.question("retry the task with this feedback instead of failing it? [y/N]: ")).trim().toLowerCase();
        await rejectGate(store, gate.id, { by: defaultDecider(), reason, action: retry === "y" || retry === "yes" ? "retry" : "fail" });
        return true;
      }
    }
  } finally {
    rl.close();
  }
}
