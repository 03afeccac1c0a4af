/** `farcaster gates`, `approve GATE`, `reject GATE --reason TEXT`: people deciding. */
import { UsageError } from "../../core/errors.ts";
import { approveGate, defaultDecider, rejectGate } from "../../services/gates.ts";
import type { GateRecord } from "../../store/types.ts";
import { evidenceText, gateStatus, gateSubject } from "../../view/gate.ts";
import { withStore } from "../args.ts";
import { COMMON_OPTIONS, JSON_OPTION, stringOption, type Command } from "../command.ts";
import { paint, paintLine, type Output } from "../output.ts";
import { isPlanReview, planReviewLines } from "../../view/planReview.ts";

export function printGate(output: Output, gate: GateRecord, now: number): void {
  const overdue = gate.overdueAt && gate.state === "pending" ? paint(output, "red", " OVERDUE") : "";
  const status = gateStatus(gate, now);
  output.out(`${paint(output, "yellow", gate.id)}  ${gateSubject(gate)}  ${gate.state === "pending" ? status : paint(output, "dim", status)}${overdue}`);
  output.out(`  ${gate.question}`);
  if (isPlanReview(gate.evidence)) {
    for (const line of planReviewLines(gate.evidence)) output.out(`    ${paintLine(output, line)}`);
  } else if (gate.evidence !== null && gate.evidence !== undefined) {
    for (const line of evidenceText(gate.evidence, 300).split("\n")) output.out(`    ${line}`);
  }
  if (gate.state === "pending") output.out(`  approve: farcaster approve ${gate.id}    reject: farcaster reject ${gate.id} --reason "..."`);
}

export const gatesCommand: Command = {
  name: "gates",
  summary: "list pending gates with their question and evidence",
  usage: "gates [RUN]",
  positionals: [{ name: "RUN", what: "a run id", optional: true, hint: "list runs with `farcaster status`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, all: { type: "boolean", description: "include decided, expired and cancelled gates, with who decided, when and why" } },
  async run(context) {
    return withStore(context, "read", async (store) => {
      const runId = context.positionals[0];
      if (runId) await store.getRun(runId); // an unknown run is not found, not a run without gates
      const gates = await store.listGates({ runId, pendingOnly: !context.values.all });
      if (context.values.json) context.output.json({ gates });
      else if (gates.length === 0) context.output.out(context.values.all ? "no gates" : "no pending gates");
      else for (const gate of gates) printGate(context.output, gate, Date.now());
      return 0;
    });
  },
};

export const approveCommand: Command = {
  name: "approve",
  summary: "approve a pending gate; the waiting task goes on",
  usage: "approve GATE [--by NAME]",
  positionals: [{ name: "GATE", what: "a gate id", hint: "list pending gates with `farcaster gates`" }],
  options: { ...COMMON_OPTIONS, ...JSON_OPTION, by: { type: "string", valueName: "NAME", description: "who approves (default $FARCASTER_USER or $USER)" } },
  async run(context) {
    const gateId = context.positionals[0]!;
    return withStore(context, "existing", async (store) => {
      const gate = await approveGate(store, gateId, stringOption(context, "by") ?? defaultDecider());
      if (context.values.json) context.output.json({ gate });
      else context.output.out(`approved ${gate.id} (${gateSubject(gate)}) as ${gate.decidedBy}`);
      return 0;
    });
  },
};

export const rejectCommand: Command = {
  name: "reject",
  summary: "reject a pending gate with a reason; the task fails, or retries with the reason as feedback",
  usage: "reject GATE --reason TEXT [--action retry|fail]",
  positionals: [{ name: "GATE", what: "a gate id", hint: "list pending gates with `farcaster gates`" }],
  options: {
    ...COMMON_OPTIONS,
    ...JSON_OPTION,
    reason: { type: "string", valueName: "TEXT", description: "why (required; the task receives it)" },
    action: { type: "string", valueName: "retry|fail", description: "retry the task with the reason as feedback, or fail it (default)" },
    by: { type: "string", valueName: "NAME", description: "who rejects (default $FARCASTER_USER or $USER)" },
  },
  async run(context) {
    const gateId = context.positionals[0]!;
    const reason = stringOption(context, "reason");
    if (!reason?.trim()) throw new UsageError(`reject needs a reason: farcaster reject ${gateId} --reason "what must change"`);
    return withStore(context, "existing", async (store) => {
      const gate = await rejectGate(store, gateId, { by: stringOption(context, "by") ?? defaultDecider(), reason, action: stringOption(context, "action") });
      if (context.values.json) context.output.json({ gate });
      else context.output.out(`rejected ${gate.id} (${gateSubject(gate)}) as ${gate.decidedBy}: ${gate.scheduleId ? "the schedule stays paused" : `the task will ${gate.action === "retry" ? "retry with your feedback" : "fail"}`}`);
      return 0;
    });
  },
};
