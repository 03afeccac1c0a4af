/**
 * The batched statements' array parameters, encoded by the store
 * (src/store/postgres/arrays.ts), read back by the real server: every value
 * in its place, NULL apart from the text "NULL" and from "", and what JSON
 * or an array literal must escape kept as written.
 */
import { describe, expect, test } from "bun:test";
import { intArray, textArray } from "../src/store/postgres/arrays.ts";
import { pgAdmin, pgAvailable } from "./fixtures/pg.ts";

const LONE = "\ud800";

describe.skipIf(!pgAvailable)("array parameters on PostgreSQL", () => {
  test("integers: NULLs, negatives, the largest exact doubles, int8 read back as strings, and no elements at all", async () => {
    const values = [0, -1, null, 2 ** 53 - 1, -(2 ** 53 - 1), undefined, 42, "9007199254740991"];
    const [row] = await pgAdmin().unsafe("SELECT $1::bigint[]::text AS a, cardinality($2::int[]) AS empty", [intArray(values), intArray([])]);
    expect(row.a).toBe("{0,-1,NULL,9007199254740991,-9007199254740991,NULL,42,9007199254740991}");
    expect(row.empty).toBe(0);
  });

  test("texts an array literal must quote come back in order and exactly, NULL apart from the texts \"NULL\" and \"null\"", async () => {
    // None of these needs quoting one by one: the literal is JSON.stringify's, as the check on it says.
    const values = ['"', "\\", '\\"', "{a,b}", "NULL", null, "", "null", '{"k":"v \\"q\\" \\\\u0000 \\\\ud800"}', "😀", "  spaced  ", "a,b", "\u2028 \u00e9 \u007f", undefined, "ﾃｽﾄ"];
    const literal = textArray(values);
    expect(literal).toBe("{" + JSON.stringify(values).slice(1, -1) + "}");
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a", [literal]);
    expect(row.a).toEqual(values.map((value) => value ?? null));
  });

  test("texts that need quoting one by one (a control character) keep NULLs and every other text too", async () => {
    const values = ['"', "\\", "{a,b}", "NULL", null, "", "null", "tab\there", undefined];
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a", [textArray(values)]);
    expect(row.a).toEqual(values.map((value) => value ?? null));
  });

  test("a value that is not a string (a JavaScript workflow's step named 7) is sent as its text", async () => {
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a", [textArray([7 as unknown as string, "x"])]);
    expect(row.a).toEqual(["7", "x"]);
  });

  test("a raw lone surrogate becomes U+FFFD, as Bun.SQL's own text encoding makes it, and the rest are kept", async () => {
    const values = [`cut ${LONE}`, "whole 😀", `${LONE}`];
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a, $2::text AS bun", [textArray(values), `cut ${LONE}`]);
    expect(row.a).toEqual(["cut \uFFFD", "whole 😀", "\uFFFD"]);
    expect(row.a[0]).toBe(row.bun);
  });

  test("control characters, which JSON.stringify would escape as an array literal does not read them, are kept", async () => {
    const values = ["tab\there", "line\nbreak", "bell\u0007", 'both "\n\\"', "ok"];
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a", [textArray(values)]);
    expect(row.a).toEqual(values);
  });

  test("ten thousand texts keep their order", async () => {
    const values = Array.from({ length: 10_000 }, (_, i) => `v${i}`);
    const [row] = await pgAdmin().unsafe("SELECT $1::text[] AS a", [textArray(values)]);
    expect(row.a).toEqual(values);
  });
});
