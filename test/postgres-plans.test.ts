/**
 * The claim's plan on PostgreSQL after an ANALYZE that saw every ready task
 * belong to one workflow, as a plan of one kind of task leaves the table. A
 * drone names all its workflows in a claim; for a workflow with no ready
 * task the claim must look it up (tasks_ready_by_workflow), not walk the
 * whole ready set filtering by workflow, which the planner chose when it
 * believed any name matches every row (migrations/postgres/0004).
 */
import { describe, expect, test } from "bun:test";
import { claimStatement } from "../src/store/postgres/claims.ts";
import { migratedSchema, openPgStore, pgAvailable, pgAdmin, schemasDroppedAfterEach } from "./fixtures/pg.ts";

const schemas = schemasDroppedAfterEach();

interface PlanNode {
  "Relation Name"?: string;
  "Index Name"?: string;
  "Rows Removed by Filter"?: number;
  "Actual Rows"?: number; // per loop
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

/** The scans of `tasks` in a plan, each with the rows it read and threw away. */
function taskScans(node: PlanNode, found: PlanNode[] = []): PlanNode[] {
  if (node["Relation Name"] === "tasks") found.push(node);
  for (const child of node.Plans ?? []) taskScans(child, found);
  return found;
}

describe.skipIf(!pgAvailable)("the claim's plan on PostgreSQL", () => {
  test("with 3,000 ready tasks of one workflow and three named workflows that have none, a claim reads only the tasks it takes", async () => {
    const schema = await migratedSchema();
    schemas.push(schema);
    const store = await openPgStore(schema);
    await store.createRun({ goal: "one kind", tasks: Array.from({ length: 3_000 }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "busy", input: {} })) });
    await pgAdmin().unsafe(`ANALYZE ${schema}.tasks`);
    const statement = claimStatement(Date.now(), {
      worker: "w",
      limit: 50,
      leaseMs: 60_000,
      groups: [{ workflows: ["busy", "idle-a", "idle-b", "idle-c"], limit: 50 }],
      recoveryLimit: 3,
    })!;
    const rollback = new Error("rollback");
    let plan: PlanNode | undefined;
    // EXPLAIN ANALYZE runs the claim: in a transaction that is rolled back.
    await store.sql
      .begin(async (tx) => {
        const [row] = await tx.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, statement.values);
        plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
        throw rollback;
      })
      .catch((error) => {
        if (error !== rollback) throw error;
      });
    expect(plan!["Actual Rows"]).toBe(50);
    const scans = taskScans(plan!);
    const thrownAway = scans.reduce((sum, scan) => sum + (scan["Rows Removed by Filter"] ?? 0) * (scan["Actual Loops"] ?? 0), 0);
    const taken = scans.filter((scan) => scan["Index Name"] === "tasks_ready_by_workflow").reduce((sum, scan) => sum + (scan["Actual Rows"] ?? 0) * (scan["Actual Loops"] ?? 0), 0);
    expect(thrownAway).toBe(0);
    expect(taken).toBeGreaterThan(40); // the 50 it took, by the index (per-loop rows are rounded)
  });
});
