import { describe, expect, test } from "bun:test";
import { PlanInvalidError } from "../src/core/errors.ts";
import { parseWorkplan, validateWorkplan } from "../src/core/workplan.ts";
import { plan } from "./helpers.ts";

function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = validateWorkplan(input);
  if (result.ok) throw new Error("expected the plan to be invalid");
  return result.issues;
}

describe("workplan validation", () => {
  test("a valid plan gets defaults and its waves", () => {
    const { plan: parsed, waves } = parseWorkplan(plan(["a"], ["b", "a"], ["c", "a"], ["d", "b", "c"]));
    expect(parsed.version).toBe(1);
    expect(parsed.tasks[0]!.after).toEqual([]);
    expect(waves).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  test("an unknown dependency is reported with its path and the known ids", () => {
    const issues = issuesOf(plan(["build"], ["test", "build"], ["ship", "test", "compile"]));
    expect(issues).toEqual([{ path: "tasks[2].after[1]", message: 'unknown task "compile"; known ids: build, test, ship' }]);
  });

  test("duplicate ids name both positions", () => {
    const issues = issuesOf(plan(["a"], ["b"], ["a"]));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("tasks[2].id");
    expect(issues[0]!.message).toContain('duplicate task id "a" (also tasks[0])');
  });

  test("a self-dependency is named", () => {
    const issues = issuesOf(plan(["a", "a"]));
    expect(issues).toEqual([{ path: "tasks[0].after[0]", message: 'task "a" depends on itself; remove it from its own `after`' }]);
  });

  test("a cycle is reported with its path in execution order", () => {
    const issues = issuesOf(plan(["start"], ["a", "start", "c"], ["b", "a"], ["c", "b"]));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toContain("dependency cycle: a -> b -> c -> a");
  });

  test("every problem is reported at once, schema and graph alike", () => {
    const issues = issuesOf({
      goal: "",
      tasks: [
        { id: "a", title: "A", workflow: "noop", after: ["zzz"] },
        { id: "b", title: "", workflow: "noop", after: [], retries: -1 },
        { id: "bad id!", title: "C", workflow: "noop" },
      ],
    });
    const paths = issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(["goal", "tasks[0].after[0]", "tasks[1].retries", "tasks[1].title", "tasks[2].id"]);
  });

  test("unknown fields are refused, so a typo does not pass silently", () => {
    const issues = issuesOf({ goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", depends_on: ["b"] }] });
    expect(issues[0]!.path).toBe("tasks[0]");
    expect(issues[0]!.message).toContain("depends_on");
  });

  test("timeouts accept durations and become milliseconds; bad durations are named", () => {
    const ok = parseWorkplan({ goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", timeout: "1.5m" }] });
    expect(ok.plan.tasks[0]!.timeout).toBe(90_000);
    const issues = issuesOf({ goal: "g", tasks: [{ id: "a", title: "A", workflow: "noop", timeout: "soon" }] });
    expect(issues[0]!.path).toBe("tasks[0].timeout");
  });

  test("an empty plan and a non-object are refused", () => {
    expect(issuesOf({ goal: "g", tasks: [] })[0]!.path).toBe("tasks");
    expect(issuesOf("nope")[0]!.message).toMatch(/object/);
  });

  test("parseWorkplan throws a PlanInvalidError that lists every problem and the source", () => {
    try {
      parseWorkplan(plan(["a", "x"], ["b", "y"]), "plan.json");
      throw new Error("should have thrown");
    } catch (error) {
      expect(error).toBeInstanceOf(PlanInvalidError);
      expect((error as PlanInvalidError).code).toBe("plan_invalid");
      expect((error as Error).message).toContain("workplan in plan.json is invalid (2 problems)");
      expect((error as Error).message).toContain('tasks[1].after[0]: unknown task "y"');
    }
  });

  test("a deep chain is checked without overflowing the stack", () => {
    const tasks: [string, ...string[]][] = [["t0"]];
    for (let i = 1; i < 20_000; i++) tasks.push([`t${i}`, `t${i - 1}`]);
    const { waves } = parseWorkplan(plan(...tasks));
    expect(waves).toHaveLength(20_000);
  });
});
