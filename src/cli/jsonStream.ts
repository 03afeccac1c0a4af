/**
 * JSON.stringify(value, null, 2), in pieces: objects and arrays are walked
 * so that no piece is larger than one leaf value (a string, a number), and a
 * run of 10,000 tasks is written without first becoming one string. Follows
 * JSON.stringify's rules for what it meets: toJSON, undefined and functions
 * left out of objects and written as null in arrays.
 */
export function* jsonPieces(value: unknown, indent = ""): Generator<string> {
  const v = toJsonValue(value);
  if (v === null || typeof v !== "object") {
    yield JSON.stringify(v) ?? "null";
    return;
  }
  const inner = indent + "  ";
  if (Array.isArray(v)) {
    if (v.length === 0) {
      yield "[]";
      return;
    }
    yield "[";
    for (let i = 0; i < v.length; i++) {
      yield `${i === 0 ? "" : ","}\n${inner}`;
      const item = toJsonValue(v[i]);
      if (item === undefined || typeof item === "function" || typeof item === "symbol") yield "null";
      else yield* jsonPieces(item, inner);
    }
    yield `\n${indent}]`;
    return;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, item]) => {
    const json = toJsonValue(item);
    return json !== undefined && typeof json !== "function" && typeof json !== "symbol";
  });
  if (entries.length === 0) {
    yield "{}";
    return;
  }
  yield "{";
  let first = true;
  for (const [key, item] of entries) {
    yield `${first ? "" : ","}\n${inner}${JSON.stringify(key)}: `;
    first = false;
    yield* jsonPieces(item, inner);
  }
  yield `\n${indent}}`;
}

function toJsonValue(value: unknown): unknown {
  const withToJson = value as { toJSON?: () => unknown } | null;
  return withToJson !== null && typeof withToJson === "object" && typeof withToJson.toJSON === "function" ? withToJson.toJSON() : value;
}
