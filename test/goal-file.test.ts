import { describe, expect, test } from "bun:test";
import { parseGoalText } from "../src/architect/goalFile.ts";
import { editDistance, nearest } from "../src/core/nearest.ts";

const GOAL = "# Ship it\n\n";

describe("goal files mean what they say", () => {
  test("fields set the task; the description starts at the first line that is not a field", () => {
    const file = parseGoalText(`${GOAL}## a: A\nrun: make\nretries: 2\nDone when make passes: every target built.\nNote: all of it.\n`, "g.md");
    expect(file.problems).toEqual([]);
    expect(file.plan).toMatchObject({ tasks: [{ id: "a", workflow: "shell", input: { command: "make" }, retries: 2, description: "Done when make passes: every target built.\nNote: all of it." }] });
  });

  test("a field-like line that names no field is a problem with its line and the field meant, whatever its case", () => {
    const file = parseGoalText(`${GOAL}## a: A\nrun: make\n\n## b: B\nrun: test\nafer: a\nRetries: 2\nNote: be careful\n`, "g.md");
    expect(file.problems).toEqual([
      { path: "g.md line 8", message: expect.stringContaining("unknown field `afer` in task \"b\" — did you mean `after`?") },
      { path: "g.md line 9", message: expect.stringContaining("unknown field `Retries` in task \"b\" — did you mean `retries`?") },
      { path: "g.md line 10", message: expect.stringContaining("unknown field `Note` in task \"b\" (fields are lowercase") },
    ]);
    expect(file.problems[2]!.message).toContain("if this line begins the description, put a blank line before it");
  });

  test("a blank line ends the fields, so a description may start with a word and a colon", () => {
    const file = parseGoalText(`${GOAL}## a: A\nrun: make\n\nNote: the build is slow.\n`, "g.md");
    expect(file.problems).toEqual([]);
    expect(file.plan).toMatchObject({ tasks: [{ id: "a", description: "Note: the build is slow." }] });
  });

  test("the nearest field is found for typos, swaps and case, and not for words far from any", () => {
    expect(nearest("afer", ["after", "run"])).toBe("after");
    expect(nearest("aftre", ["after", "run"])).toBe("after");
    expect(nearest("TIMEOUT", ["timeout"])).toBe("timeout");
    expect(nearest("description", ["after", "run", "gate"])).toBeNull();
    expect(editDistance("kitten", "sitting")).toBe(3);
  });
});
