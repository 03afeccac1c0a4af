/**
 * The VALUES lists of the set statements (src/store/sqlite/valuesRows.ts):
 * padded to a few sizes so each statement keeps few texts, padding rows of
 * NULLs, longer sets in chunks. The statements themselves are covered by
 * test/group-commit.test.ts (sets of 263) and the Store contract suite.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { chunks, flatRows, MAX_VALUES_ROWS, paddedSize, textsBySize, valuesList } from "../src/store/sqlite/valuesRows.ts";

test("a list is padded to the smallest size that holds it; past the largest, the caller must chunk", () => {
  expect([1, 8, 9, 32, 33, 128].map(paddedSize)).toEqual([8, 8, 32, 32, 128, 128]);
  expect(() => paddedSize(MAX_VALUES_ROWS + 1)).toThrow(/at most 128 rows/);
  expect(chunks(Array.from({ length: 300 }, (_, i) => i)).map((c) => [c.length, c[0]])).toEqual([[128, 0], [128, 128], [44, 256]]);
  expect(chunks([1, 2])).toEqual([[1, 2]]);
});

test("the rows bind in order, numbered from the first parameter, the padding all NULL", () => {
  expect(valuesList(2, 2, 3)).toBe("VALUES (?3,?4),(?5,?6)");
  expect(flatRows([[1, "a"], [2, null]], 2, 3)).toEqual([1, "a", 2, null, null, null]);
  expect(() => flatRows([[1]], 2, 8)).toThrow(/2 columns \(got 1\)/);
  const db = new Database(":memory:");
  try {
    const rows = db.query(`SELECT column1 AS n, column2 AS s FROM (${valuesList(2, 8, 2)}) WHERE column1 IS NOT NULL AND ?1 = 'x'`)
      .all("x", ...flatRows([[1, "a"], [2, "b"], [3, null]], 2, 8));
    expect(rows).toEqual([{ n: 1, s: "a" }, { n: 2, s: "b" }, { n: 3, s: null }]);
  } finally {
    db.close();
  }
});

test("more rows than the list holds are refused, never cut; a text is there only for the padded sizes", () => {
  expect(() => flatRows([[1], [2]], 1, 1)).toThrow(/2 rows do not fit a VALUES list of 1/);
  const text = textsBySize(1, 1, (list) => `SELECT * FROM (${list})`);
  expect(text(8)).toBe(`SELECT * FROM (${valuesList(1, 8, 1)})`);
  expect(() => text(9)).toThrow(/padded to 8, 32, 128 rows \(got 9\)/);
});
