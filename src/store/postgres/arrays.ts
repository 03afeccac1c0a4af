/**
 * Array parameters for the batched statements, encoded here instead of by
 * Bun.SQL. Bun.SQL turns a JS array into an array literal element by
 * element, with a regular-expression escape of every element, numbers
 * included: for the JSON texts a batch carries (step inputs and outputs,
 * completions, event data), which are full of quotes to escape, that was
 * the largest single item in a drone's profile, about a sixth of its CPU
 * per task (bench/README.md, "Array parameters").
 *
 * - Integers go as the literal `{1,2,NULL}`, bound where the statement says
 *   `$n::bigint[]` (or `int[]`): PostgreSQL parses it as that array.
 * - Texts go as one JSON array of strings, made by JSON.stringify (native,
 *   and it escapes in one pass), and the statement turns it back into text[]
 *   with `textArraySql`. Every string comes back exactly as it was, NUL and
 *   lone surrogates included: a JSON text (JSON.stringify's output) holds
 *   them as escapes, which the outer JSON escapes again. A raw lone surrogate
 *   in a string (an identifier cut in the middle of an emoji) is not valid
 *   JSON for PostgreSQL; it becomes U+FFFD, as UTF-8 encoding makes it when
 *   Bun.SQL sends a string.
 */

/**
 * A PostgreSQL array literal of integers (null: NULL), to bind as `$n::bigint[]` or
 * `$n::int[]`; a string is an int8 as Bun.SQL read it back.
 */
export function intArray(values: readonly (number | string | null | undefined)[]): string {
  for (const value of values) {
    if (value === null || value === undefined) return "{" + values.map((v) => (v === null || v === undefined ? "NULL" : v)).join(",") + "}";
  }
  return "{" + values.join(",") + "}"; // native, about twice as fast as appending element by element
}

/** Texts (null: NULL) as one JSON array, to bind where `textArraySql` reads it. */
export function textArray(values: readonly (string | null | undefined)[]): string {
  let wellFormed = true;
  for (const value of values) {
    if (typeof value === "string" && !value.isWellFormed()) {
      wellFormed = false;
      break;
    }
  }
  const texts = wellFormed ? values : values.map((value) => (typeof value === "string" ? value.toWellFormed() : value));
  // undefined in an array is written as null by JSON.stringify.
  return JSON.stringify(texts);
}

/** SQL for the text[] a bound `textArray` value holds, its order kept. */
export function textArraySql(param: string): string {
  return `ARRAY(SELECT v FROM json_array_elements_text(${param}::text::json) WITH ORDINALITY AS x(v, n) ORDER BY n)`;
}
