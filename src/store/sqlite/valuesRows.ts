/**
 * Rows of a set statement (sets.ts; a plan's tasks in runs.ts) bound as the
 * parameters of a VALUES list.
 *
 * Why not one JSON text read with json_each: every `value ->> n` parses the
 * row's JSON again, so a step of 13 columns paid 13 parses, and the step
 * statement cost 6.2 µs a task, the most of any statement on the hot path.
 * Bound VALUES rows cost 0.6–1.4 µs (bench/README.md, "Set statements").
 *
 * A list is padded with rows of NULLs to one of a few sizes, so each
 * statement has only a few texts (statements.ts caches them) whatever the
 * batch size; a padding row's NULL id matches no task, and a statement that
 * inserts from the list alone must skip it (`WHERE v.column1 IS NOT NULL`).
 * Longer sets go in chunks of the largest size.
 */
import type { SQLQueryBindings } from "bun:sqlite";

export const VALUES_SIZES: readonly number[] = [8, 32, 128];
export const MAX_VALUES_ROWS = VALUES_SIZES[VALUES_SIZES.length - 1]!;

/** `VALUES (?first, …), …`: `rows` rows of `columns` parameters, numbered from `first`. */
export function valuesList(columns: number, rows: number, first: number): string {
  const row = (r: number) => `(${Array.from({ length: columns }, (_, c) => `?${first + r * columns + c}`).join(",")})`;
  return `VALUES ${Array.from({ length: rows }, (_, r) => row(r)).join(",")}`;
}

/**
 * A statement's text for each padded size, built once (a text of 128 rows is
 * ~12 KB: building and hashing it again for every batch is waste): `build`
 * is given the VALUES list of `columns` parameters a row, numbered from `first`.
 */
export function textsBySize(columns: number, first: number, build: (list: string) => string): (size: number) => string {
  const texts = new Map(VALUES_SIZES.map((size) => [size, build(valuesList(columns, size, first))]));
  return (size) => {
    const text = texts.get(size);
    if (text === undefined) throw new RangeError(`a VALUES list is padded to ${VALUES_SIZES.join(", ")} rows (got ${size})`);
    return text;
  };
}

/** One set statement over VALUES lists: its texts by padded size, and the binding of a set to them. */
export interface ValuesStatement<T> {
  /** Each chunk of `items` as the text to run and its list's parameters (after the statement's own, ?1 … ?first-1). */
  bind(items: readonly T[]): { text: string; params: SQLQueryBindings[] }[];
}

/**
 * A set statement whose rows are `columns` parameters numbered from `first`:
 * `build` is given the VALUES list, `toRow` makes an item's row (`n`: its
 * place in its chunk).
 */
export function valuesStatement<T>(
  columns: number,
  first: number,
  build: (list: string) => string,
  toRow: (item: T, n: number) => readonly SQLQueryBindings[],
): ValuesStatement<T> {
  const text = textsBySize(columns, first, build);
  return {
    bind: (items) =>
      chunks(items).map((chunk) => {
        const size = paddedSize(chunk.length);
        return { text: text(size), params: flatRows(chunk.map(toRow), columns, size) };
      }),
  };
}

/** The size a list of `rows` rows is padded to (at most MAX_VALUES_ROWS: split longer sets with chunks()). */
export function paddedSize(rows: number): number {
  for (const size of VALUES_SIZES) if (rows <= size) return size;
  throw new RangeError(`a VALUES list holds at most ${MAX_VALUES_ROWS} rows (got ${rows})`);
}

/** The rows' parameters, flat, padded with NULLs to `size` rows. */
export function flatRows(rows: readonly (readonly SQLQueryBindings[])[], columns: number, size: number): SQLQueryBindings[] {
  if (rows.length > size) throw new RangeError(`${rows.length} rows do not fit a VALUES list of ${size}`);
  const params: SQLQueryBindings[] = new Array(size * columns).fill(null);
  let at = 0;
  for (const row of rows) {
    if (row.length !== columns) throw new RangeError(`a VALUES row has ${columns} columns (got ${row.length})`);
    for (let c = 0; c < columns; c++) params[at++] = row[c]!;
  }
  return params;
}

/** The items in consecutive chunks of at most MAX_VALUES_ROWS. */
export function chunks<T>(items: readonly T[]): (readonly T[])[] {
  if (items.length <= MAX_VALUES_ROWS) return [items];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_VALUES_ROWS) out.push(items.slice(i, i + MAX_VALUES_ROWS));
  return out;
}
