/**
 * The hot statements' plans on PostgreSQL, read from EXPLAIN ANALYZE in a
 * transaction that is rolled back, in the cases statistics turned bad:
 * - the claim, after an ANALYZE that saw every ready task belong to one
 *   workflow (a plan of one kind of task): a drone names all its workflows,
 *   and a workflow with no ready task must be looked up
 *   (tasks_ready_by_workflow), not found by walking the whole ready set,
 *   which the planner chose when it believed any name matches every row
 *   (migrations/postgres/0004);
 * - the batched completion, with and without an ANALYZE: it must look its
 *   tasks up by id, not read the table whole (batchTasks in sqlText.ts).
 */
import { describe, expect, test } from "bun:test";
import { intArray, textArray } from "../src/store/postgres/arrays.ts";
import { claimStatement } from "../src/store/postgres/claims.ts";
import { COMPLETE_TASKS } from "../src/store/postgres/outcomes.ts";
import type { PostgresStore } from "../src/store/postgres/store.ts";
import { migratedSchema, openPgStore, pgAvailable, pgAdmin, schemasDroppedAfterEach } from "./fixtures/pg.ts";

const schemas = schemasDroppedAfterEach();

interface PlanNode {
  "Node Type"?: string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Rows Removed by Filter"?: number;
  "Actual Rows"?: number; // per loop
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

/** Runs EXPLAIN ANALYZE of a statement in a transaction that is rolled back, and returns its plan. */
async function explain(store: PostgresStore, text: string, values: unknown[]): Promise<PlanNode> {
  const rollback = new Error("rollback");
  let plan: PlanNode | undefined;
  await store.sql
    .begin(async (tx) => {
      const [row] = await tx.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
      plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
      throw rollback;
    })
    .catch((error) => {
      if (error !== rollback) throw error;
    });
  return plan!;
}

/** The rows the scans of `tasks` in a plan read: what they returned and what they threw away. */
function rowsRead(plan: PlanNode): number {
  return taskScans(plan).reduce((sum, scan) => sum + ((scan["Actual Rows"] ?? 0) + (scan["Rows Removed by Filter"] ?? 0)) * (scan["Actual Loops"] ?? 0), 0);
}

/** The scans of `tasks` in a plan that ran (not the UPDATE that names the table too), each with the rows it read and threw away. */
function taskScans(node: PlanNode, found: PlanNode[] = []): PlanNode[] {
  if (node["Relation Name"] === "tasks" && node["Node Type"]?.endsWith("Scan") && (node["Actual Loops"] ?? 0) > 0) found.push(node);
  for (const child of node.Plans ?? []) taskScans(child, found);
  return found;
}

describe.skipIf(!pgAvailable)("the hot statements' plans on PostgreSQL", () => {
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
    const plan = await explain(store, statement.text, statement.values);
    expect(plan["Actual Rows"]).toBe(50);
    const scans = taskScans(plan);
    const thrownAway = scans.reduce((sum, scan) => sum + (scan["Rows Removed by Filter"] ?? 0) * (scan["Actual Loops"] ?? 0), 0);
    const taken = scans.filter((scan) => scan["Index Name"] === "tasks_ready_by_workflow").reduce((sum, scan) => sum + (scan["Actual Rows"] ?? 0) * (scan["Actual Loops"] ?? 0), 0);
    expect(thrownAway).toBe(0);
    expect(taken).toBeGreaterThan(40); // the 50 it took, by the index (per-loop rows are rounded)
  });

  // A completion of 128 tasks among 20,000 must read those 128 rows, on a table without statistics (a custom
  // plan knows the batch has 128 rows and not how many the table has: it read the table whole and hashed it)
  // and after an ANALYZE that saw none running (the state in the fence let it walk every running task for
  // every row of the batch). A table of a few thousand rows is read whole by design: it costs less than the
  // index there.
  // Batches of 128 and of 768 (a drone beside others keeps all its default slots in one lane). A batch of 768
  // among 20,000 tasks without statistics is read whole (7.6 ms, where the planner expects an index to cost
  // more); from 40,000 tasks on it is looked up by id: the 768 case is held among 60,000.
  for (const [analyzed, batch, total] of [[false, 128, 20_000], [true, 128, 20_000], [false, 768, 60_000], [true, 768, 60_000]] as const) {
    test(`a completion of ${batch} tasks among ${total.toLocaleString("en")} reads their rows and no others, ${analyzed ? "after an ANALYZE that saw none running" : "on a table without statistics"}`, async () => {
      const schema = await migratedSchema();
      schemas.push(schema);
      const store = await openPgStore(schema);
      await store.createRun({ goal: "one kind", tasks: Array.from({ length: total }, (_, i) => ({ id: `t${i}`, title: "t", workflow: "busy", input: {} })) });
      if (analyzed) await pgAdmin().unsafe(`ANALYZE ${schema}.tasks`);
      const claimed = await store.claimTasks("w", batch, 60_000, { workflows: ["busy"] });
      expect(claimed).toHaveLength(batch);
      const values = [intArray(claimed.map((c) => c.taskId)), intArray(claimed.map((c) => c.attemptId)), textArray(claimed.map(() => "null")), Date.now()];
      const plan = await explain(store, COMPLETE_TASKS, values);
      const done = taskScans(plan).filter((scan) => scan["Node Type"] === "Seq Scan");
      expect(done).toEqual([]);
      expect(rowsRead(plan)).toBeLessThan(2 * batch); // the batch's rows, looked up by id (their dependents: none here)
    });
  }
});
