import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../src/core/errors.ts";
import { EVENT_TYPES } from "../src/core/events.ts";
import {
  ATTEMPT_STATES,
  CATCH_UP_POLICIES,
  FAIL_REASONS,
  FIRE_OUTCOMES,
  GATE_STATES,
  GATE_TIMEOUT_ACTIONS,
  LOG_STREAMS,
  REJECT_ACTIONS,
  RUN_STATES,
  SCHEDULE_OVERLAPS,
  SCHEDULE_TARGET_KINDS,
  STEP_STATUSES,
  TASK_STATES,
} from "../src/core/states.ts";
import { openDatabase } from "../src/store/sqlite/database.ts";
import { freshDir } from "./helpers.ts";

/** Every `column … CHECK (column IN (…))` of the migrated schema, as "table.column" -> its values. */
function checkedSets(db: Database): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  const tables = db.query<{ name: string; sql: string }, []>("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL").all();
  for (const table of tables) {
    for (const match of table.sql.matchAll(/CHECK \((\w+) IN \(([^)]*)\)\)/g)) {
      sets.set(`${table.name}.${match[1]}`, match[2]!.split(",").map((value) => value.trim().replace(/^'|'$/g, "")));
    }
  }
  return sets;
}

/** Each CHECK's constant; a CHECK missing here fails the test, so a new one cannot drift unseen. */
const CONSTANTS: Record<string, readonly (string | number)[]> = {
  "runs.state": RUN_STATES,
  "tasks.state": TASK_STATES,
  "tasks.fail_reason": FAIL_REASONS,
  "attempts.state": ATTEMPT_STATES,
  "steps.status": STEP_STATUSES,
  "gates.state": GATE_STATES,
  "gates.action": REJECT_ACTIONS,
  "gates.on_timeout": GATE_TIMEOUT_ACTIONS,
  "task_logs.stream": LOG_STREAMS,
  "schedules.target_kind": SCHEDULE_TARGET_KINDS,
  "schedules.overlap": SCHEDULE_OVERLAPS,
  "schedules.catch_up": CATCH_UP_POLICIES,
  "schedules.enabled": [0, 1],
  "schedule_fires.outcome": FIRE_OUTCOMES,
};

describe("closed catalogs", () => {
  test("every CHECK constraint of the schema lists exactly the values of its TypeScript constant", () => {
    const db = openDatabase(join(freshDir(), "c.db"));
    try {
      const sets = checkedSets(db);
      expect([...sets.keys()].sort()).toEqual(Object.keys(CONSTANTS).sort());
      for (const [column, values] of sets) expect({ column, values }).toEqual({ column, values: CONSTANTS[column]!.map(String) });
    } finally {
      db.close();
    }
  });

  test("every state literal in the store's SQL belongs to a closed set", () => {
    const known = new Set<string>([...TASK_STATES, ...RUN_STATES, ...ATTEMPT_STATES, ...GATE_STATES, ...STEP_STATUSES]);
    const unknown: string[] = [];
    for (const dialect of ["sqlite", "postgres"]) {
      const dir = join(import.meta.dir, "..", "src", "store", dialect);
      for (const file of readdirSync(dir).filter((name) => name.endsWith(".ts"))) {
        const text = readFileSync(join(dir, file), "utf8");
        for (const match of text.matchAll(/\b(?:state|status)\s*(?:=|<>|!=)\s*'([^']*)'/g)) if (!known.has(match[1]!)) unknown.push(`${dialect}/${file}: '${match[1]}'`);
      }
    }
    expect(unknown).toEqual([]);
  });

  test("event types and error codes are unique, and named as the log and the HTTP API expect", () => {
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    for (const type of EVENT_TYPES) expect(type).toMatch(/^(run|task|gate|signal|schedule)\.[a-z_]+$/);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});
