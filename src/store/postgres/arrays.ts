/**
 * Array parameters for the batched statements, encoded here instead of by
 * Bun.SQL. Bun.SQL turns a JS array into an array literal element by
 * element, with a regular-expression escape of every element, numbers
 * included: for the JSON texts a batch carries (step inputs and outputs,
 * completions, event data), which are full of quotes to escape, that was
 * the largest single item in a drone's profile, about a sixth of its CPU
 * per task (bench/README.md, "Array parameters, and plans that statistics
 * turned bad").
 *
 * Both go as the text of an array literal (`{1,2,NULL}`, `{"a","b"}`),
 * bound where the statement says `$n::bigint[]` or `$n::text[]`, which
 * PostgreSQL parses as it parses what Bun.SQL would have sent: the server's
 * work is the same. Tried first: texts as one JSON array, turned into text[]
 * by json_array_elements_text. It cost the drone less still, and the server
 * more than it saved (bench/pg.ts, four workers: 0.96× the commit before).
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

/** Control characters: JSON.stringify escapes them in ways an array literal reads differently (\n, \u0000). */
const CONTROL = /[\u0000-\u001f]/;
const QUOTED = /[\\"]/g;

/**
 * A PostgreSQL array literal of texts (null: NULL), to bind as `$n::text[]`.
 * JSON.stringify quotes a string the way an array literal does (a
 * backslash before `"` and `\`) unless the string holds a control
 * character or a lone surrogate: then each element is quoted here. A null
 * comes out unquoted, `null`, which an array literal reads as NULL (the
 * text "null" stays quoted). Anything else is made a string first (a
 * JavaScript workflow may name a step with a number).
 */
export function textArray(values: readonly (string | null | undefined)[]): string {
  for (const value of values) {
    if (value === null || value === undefined) continue;
    if (typeof value !== "string" || CONTROL.test(value) || !value.isWellFormed()) return quoteEach(values);
  }
  return "{" + JSON.stringify(values).slice(1, -1) + "}";
}

function quoteEach(values: readonly (string | null | undefined)[]): string {
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ",";
    const value = values[i];
    literal += value === null || value === undefined ? "NULL" : '"' + String(value).toWellFormed().replace(QUOTED, "\\$&") + '"';
  }
  return literal + "}";
}
