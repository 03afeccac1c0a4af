/**
 * The file tools: read, list, search, write, edit. Every path goes through the
 * Workspace first; every answer is bounded, so one call cannot flood the
 * model's context (or the journal) with a huge file or tree.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { guarded, type ToolResult } from "./result.ts";
import type { ToolArgs } from "./schemas.ts";
import type { ResolvedPath, Workspace } from "./scope.ts";

export const LIMITS = {
  /** Most bytes of file content one read_file returns. */
  readBytes: 64 * 1024,
  /** Files larger than this are not read whole (read_file) or searched (search_files). */
  readFileMax: 16 * 1024 * 1024,
  searchFileMax: 1024 * 1024,
  /** Most paths list_files returns, and matches search_files returns. */
  listEntries: 500,
  searchMatches: 200,
  /** A matching line is cut to this many characters. */
  matchChars: 240,
  /** Most directory entries one walk visits, so a huge tree costs bounded time. */
  walkEntries: 50_000,
  /** Most bytes one write_file or edit_file may leave in a file. */
  writeBytes: 1024 * 1024,
};

/** Never descended into when listing or searching (they can still be named explicitly). */
const SKIPPED_DIRS = new Set(["node_modules", ".git", ".farcaster"]);

export const readFile = guarded<ToolArgs<"read_file">>(async (ws, args) => {
  const file = ws.resolveForRead(args.path);
  const text = readText(file, LIMITS.readFileMax);
  const lines = text === "" ? [] : text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  const total = lines.length;
  const start = args.offset ?? 1;
  if (start > Math.max(total, 1)) return { ok: false, error: `"${args.path}" has ${total} lines; offset ${start} is past the end` };
  const last = Math.min(total, args.limit === undefined ? total : start - 1 + args.limit);
  const picked: string[] = [];
  let bytes = 0;
  let note: string | undefined;
  for (let n = start; n <= last; n++) {
    const line = lines[n - 1]!;
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > LIMITS.readBytes) {
      if (picked.length === 0) {
        // One line longer than the budget: show its start rather than nothing.
        picked.push(Buffer.from(line).subarray(0, LIMITS.readBytes).toString("utf8"));
        note = `line ${n} is longer than ${LIMITS.readBytes} bytes and was cut`;
      }
      break;
    }
    picked.push(line);
    bytes += size;
  }
  const end = start + picked.length - 1;
  if (end < last) note = `${note ? note + "; " : ""}truncated at ${LIMITS.readBytes} bytes: showing lines ${start}-${end} of ${total}; call read_file with offset ${end + 1} to continue`;
  return { ok: true, path: file.rel, content: picked.join("\n"), startLine: start, endLine: end, totalLines: total, truncated: end < last || note !== undefined, ...(note ? { note } : {}) };
});

export const listFiles = guarded<ToolArgs<"list_files">>(async (ws, args, signal) => {
  const dir = ws.resolveForRead(args.path ?? ".");
  const glob = args.glob ? new Bun.Glob(args.glob) : undefined;
  const files: string[] = [];
  let matched = 0;
  for (const entry of walk(dir, signal)) {
    if (glob && !glob.match(entry.under)) continue;
    matched++;
    if (files.length < LIMITS.listEntries) files.push(entry.rel);
  }
  const truncated = matched > files.length;
  const note = truncated ? `showing the first ${files.length} of ${matched} files; narrow it with path or glob` : undefined;
  return { ok: true, path: dir.rel, files, truncated, ...(note ? { note } : {}) };
});

export const searchFiles = guarded<ToolArgs<"search_files">>(async (ws, args, signal) => {
  const dir = ws.resolveForRead(args.path ?? ".");
  let test: (line: string) => boolean;
  if (args.regex) {
    let regex: RegExp;
    try {
      regex = new RegExp(args.pattern, args.ignoreCase ? "i" : "");
    } catch (error) {
      return { ok: false, error: `invalid regular expression: ${(error as Error).message}` };
    }
    test = (line) => regex.test(line);
  } else {
    const needle = args.ignoreCase ? args.pattern.toLowerCase() : args.pattern;
    test = args.ignoreCase ? (line) => line.toLowerCase().includes(needle) : (line) => line.includes(needle);
  }
  const glob = args.glob ? new Bun.Glob(args.glob) : undefined;
  const matches: string[] = [];
  let searched = 0;
  const skipped: string[] = [];
  let truncated = false;
  outer: for (const entry of walk(dir, signal)) {
    // Symlinks are listed but not searched: their target may be outside, or seen twice.
    if (entry.symlink || (glob && !glob.match(entry.under))) continue;
    let text: string;
    try {
      text = readText(entry, LIMITS.searchFileMax);
    } catch {
      skipped.push(entry.rel); // too large, binary or unreadable
      continue;
    }
    searched++;
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!test(lines[i]!)) continue;
      if (matches.length === LIMITS.searchMatches) {
        truncated = true;
        break outer;
      }
      matches.push(`${entry.rel}:${i + 1}:${lines[i]!.slice(0, LIMITS.matchChars)}`);
    }
  }
  const notes = [
    truncated ? `stopped at ${LIMITS.searchMatches} matches; narrow it with path, glob or a more specific pattern` : "",
    skipped.length ? `not searched (binary or larger than ${LIMITS.searchFileMax} bytes): ${skipped.slice(0, 10).join(", ")}${skipped.length > 10 ? ", …" : ""}` : "",
  ].filter(Boolean);
  return { ok: true, matches, filesSearched: searched, truncated, ...(notes.length ? { note: notes.join("; ") } : {}) };
});

export const writeFile = guarded<ToolArgs<"write_file">>(async (ws, args) => {
  const file = ws.resolveForWrite(args.path);
  const bytes = Buffer.byteLength(args.content);
  if (bytes > LIMITS.writeBytes) return { ok: false, error: `content is ${bytes} bytes; write_file takes at most ${LIMITS.writeBytes}` };
  const created = !existsSync(file.abs);
  mkdirSync(dirname(file.abs), { recursive: true });
  writeFileSync(file.abs, args.content);
  return { ok: true, path: file.rel, bytes, created };
});

export const editFile = guarded<ToolArgs<"edit_file">>(async (ws, args) => {
  const file = ws.resolveForWrite(args.path);
  const text = readText(file, LIMITS.writeBytes);
  const at: number[] = [];
  for (let i = text.indexOf(args.old); i !== -1; i = text.indexOf(args.old, i + args.old.length)) at.push(i);
  if (at.length === 0) {
    return { ok: false, error: `the old text was not found in "${file.rel}"; read_file it and copy the exact text, whitespace and indentation included` };
  }
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;
  if (at.length > 1) {
    const lines = at.slice(0, 20).map(lineOf).join(", ");
    return { ok: false, error: `the old text occurs ${at.length} times in "${file.rel}" (at lines ${lines}); include more surrounding text so it occurs once` };
  }
  const updated = text.slice(0, at[0]) + args.new + text.slice(at[0]! + args.old.length);
  if (Buffer.byteLength(updated) > LIMITS.writeBytes) return { ok: false, error: `the edited file would be larger than ${LIMITS.writeBytes} bytes` };
  writeFileSync(file.abs, updated);
  return { ok: true, path: file.rel, line: lineOf(at[0]!) };
});

/** Reads a text file, refusing directories, huge files and binary content with a message the model can use. */
function readText(file: ResolvedPath, maxBytes: number): string {
  const stat = statSync(file.abs);
  if (stat.isDirectory()) throw new Error(`"${file.rel}" is a directory; use list_files`);
  if (stat.size > maxBytes) throw new Error(`"${file.rel}" is ${stat.size} bytes, more than ${maxBytes}; use search_files to find the part you need`);
  const bytes = readFileSync(file.abs);
  if (bytes.subarray(0, 8192).includes(0)) throw new Error(`"${file.rel}" looks binary; only text files can be read`);
  return bytes.toString("utf8");
}

interface Entry extends ResolvedPath {
  /** Relative to the directory being walked (what `glob` is matched against). */
  under: string;
  symlink: boolean;
}

/**
 * Files under `start`, depth first in name order, without following symlinks
 * (a link to / would otherwise walk the disk) and skipping SKIPPED_DIRS below
 * the start. Stops quietly after LIMITS.walkEntries entries.
 */
function* walk(start: ResolvedPath, signal: AbortSignal): Generator<Entry> {
  if (!statSync(start.abs).isDirectory()) {
    yield { ...start, under: start.rel.split("/").pop()!, symlink: false };
    return;
  }
  const prefix = (rel: string, name: string) => (rel === "." ? name : `${rel}/${name}`);
  const stack: Array<{ abs: string; rel: string; under: string }> = [{ abs: start.abs, rel: start.rel, under: "" }];
  let visited = 0;
  while (stack.length > 0) {
    signal.throwIfAborted();
    const dir = stack.pop()!;
    const entries = readdirSync(dir.abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: typeof stack = [];
    for (const entry of entries) {
      if (++visited > LIMITS.walkEntries) return;
      const abs = join(dir.abs, entry.name);
      const rel = prefix(dir.rel, entry.name);
      const under = dir.under ? `${dir.under}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) subdirs.push({ abs, rel, under });
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        yield { abs, rel, real: abs, under, symlink: entry.isSymbolicLink() };
      }
    }
    stack.push(...subdirs.reverse());
  }
}
