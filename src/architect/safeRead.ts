/**
 * Reading a file a person or a client named, safely: only a regular file
 * (symlinks resolved), at most a size limit, read asynchronously, and
 * optionally only under given roots.
 *
 * Why each rule: a FIFO or a device read synchronously froze the whole server
 * (`/healthz` stopped answering), `/dev/zero` would exhaust memory, and any
 * token holder could make the server read any file it can read. The file is
 * opened with O_NONBLOCK (opening a FIFO then does not wait for a writer) and
 * checked on the open handle, so it cannot be swapped between check and read;
 * its size is not trusted either (files in /proc report 0): the read stops
 * one byte past the limit.
 */
import { constants } from "node:fs";
import { open, realpath, type FileHandle } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { FileUnreadableError, InputError, OutsideGoalRootsError } from "../core/errors.ts";
import { LimitError, formatBytes, LIMITS } from "../core/limits.ts";

export interface ReadOptions {
  /** When given, the file must lie under one of these directories once symlinks are resolved. */
  roots?: readonly string[];
  maxBytes?: number;
}

function isUnder(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

const ERRNO_WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EIO: "input/output error",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the name is too long",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
  ENXIO: "no such device",
  EINVAL: "invalid argument",
};

function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code ? `${ERRNO_WORDS[code] ?? (error as Error).message} (${code})` : String((error as Error)?.message ?? error);
}

/** The directories as real paths; a root that does not exist holds nothing. */
async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const root of roots) {
    try {
      out.push(await realpath(resolve(root)));
    } catch {
      // a root that cannot be resolved allows nothing
    }
  }
  return out;
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * The text of the file at `path`. `what` names it in messages ("goal file"),
 * `expected` says what to pass instead ("a Markdown goal (goal.md) …").
 */
export async function readTextFile(path: string, what: string, expected: string, options: ReadOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? LIMITS.goalFileBytes;
  const absolute = resolve(path);
  let target = absolute;
  if (options.roots) {
    const roots = await realRoots(options.roots);
    // Refused before touching the file: outside the roots, not even its existence is told.
    if (!roots.some((root) => isUnder(absolute, root)) && !options.roots.some((root) => isUnder(absolute, resolve(root)))) {
      throw new OutsideGoalRootsError(path, options.roots.map((root) => resolve(root)));
    }
    try {
      target = await realpath(absolute);
    } catch (error) {
      throw missingOr(error, path, what, expected);
    }
    if (!roots.some((root) => isUnder(target, root))) throw new OutsideGoalRootsError(path, options.roots.map((root) => resolve(root)));
  }
  let handle: FileHandle;
  try {
    // Under roots, `target` is a real path: O_NOFOLLOW refuses a last component swapped for a symlink since.
    handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (options.roots ? constants.O_NOFOLLOW : 0));
  } catch (error) {
    throw missingOr(error, path, what, expected);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new InputError(`${path} is a directory; pass ${expected}`);
    if (!stats.isFile()) throw new FileUnreadableError(`${what} ${path} is ${kindOf(stats)}, not a regular file; pass ${expected}`);
    if (stats.size > maxBytes) throw tooLarge(path, what, maxBytes, stats.size);
    return await readAtMost(handle, path, what, maxBytes);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** `bytes` when the size is known (a stat); a read stopped past the limit knows only that it is more. */
function tooLarge(path: string, what: string, maxBytes: number, bytes?: number): LimitError {
  return new LimitError("too_large", `${what} ${path}`, `${bytes === undefined ? "larger than that" : formatBytes(bytes)}, over the limit of ${formatBytes(maxBytes)}`);
}

function missingOr(error: unknown, path: string, what: string, expected: string): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return new InputError(`${what} ${path} does not exist; pass ${expected}`);
  if (code === "EISDIR") return new InputError(`${path} is a directory; pass ${expected}`);
  return new FileUnreadableError(`${what} ${path} cannot be read: ${describeErrno(error)}`, { cause: error });
}

async function readAtMost(handle: FileHandle, path: string, what: string, maxBytes: number): Promise<string> {
  const buffer = Buffer.alloc(Math.min(maxBytes + 1, 64 * 1024));
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
    } catch (error) {
      throw new FileUnreadableError(`${what} ${path} cannot be read: ${describeErrno(error)}`, { cause: error });
    }
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(path, what, maxBytes);
    chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
  }
  return Buffer.concat(chunks, total).toString("utf8");
}
