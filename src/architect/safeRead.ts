/**
 * Reading a file a person or a client named, safely: only a regular file
 * (symlinks resolved), at most a size limit, read asynchronously, and
 * optionally only under given roots.
 *
 * Why each rule: a FIFO or a device read synchronously froze the whole server
 * (`/healthz` stopped answering), `/dev/zero` would exhaust memory, and any
 * token holder could make the server read any file it can read. What the path
 * is gets asked before it is opened (opening a device has side effects), then
 * again on the open handle (opened with O_NONBLOCK, so a FIFO swapped in does
 * not wait for a writer), so it cannot be swapped between check and read;
 * under roots, the opened descriptor's real path is checked too. The size is
 * not trusted either (files in /proc report 0): the read stops one byte past
 * the limit.
 */
import { constants, type Stats } from "node:fs";
import { lstat, open, readlink, realpath, stat, type FileHandle } from "node:fs/promises";
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
  let roots: string[] | undefined;
  if (options.roots) {
    roots = await realRoots(options.roots);
    // Refused before touching the file: outside the roots, not even its existence is told.
    if (!roots.some((root) => isUnder(absolute, root)) && !options.roots.some((root) => isUnder(absolute, resolve(root)))) {
      throw outsideRoots(path, options.roots);
    }
    try {
      target = await realpath(absolute);
    } catch (error) {
      throw missingOr(error, path, what, expected);
    }
    if (!roots.some((root) => isUnder(target, root))) throw outsideRoots(path, options.roots);
  }
  // What the path is, asked before opening it: opening a device is not harmless even when nothing
  // is read (closing /dev/watchdog without its magic byte can reboot the machine, a tape drive
  // rewinds, a FIFO's waiting writer is let through). Under roots `target` is a real path, so lstat:
  // a symlink there now was swapped in since realpath.
  let stats: Stats;
  try {
    stats = await (roots ? lstat : stat)(target);
  } catch (error) {
    throw missingOr(error, path, what, expected);
  }
  refuseUnlessRegular(stats, path, what, expected);
  if (stats.size > maxBytes) throw tooLarge(path, what, maxBytes, stats.size);
  let handle: FileHandle;
  try {
    // O_NOFOLLOW under roots refuses a last component swapped for a symlink since the lstat.
    handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (roots ? constants.O_NOFOLLOW : 0));
  } catch (error) {
    throw missingOr(error, path, what, expected);
  }
  try {
    // Checked again on the handle: the path may have been swapped between the stat and the open.
    const opened = await handle.stat();
    refuseUnlessRegular(opened, path, what, expected);
    if (opened.size > maxBytes) throw tooLarge(path, what, maxBytes, opened.size);
    if (roots) await refuseUnlessOpenedUnder(handle, roots, path, options.roots!);
    return await readAtMost(handle, path, what, maxBytes);
  } finally {
    await handle.close().catch(() => {});
  }
}

function refuseUnlessRegular(stats: Stats, path: string, what: string, expected: string): void {
  if (stats.isDirectory()) throw new InputError(`${path} is a directory; pass ${expected}`);
  if (!stats.isFile()) throw new FileUnreadableError(`${what} ${path} is ${kindOf(stats)}, not a regular file; pass ${expected}`);
}

function outsideRoots(path: string, roots: readonly string[]): OutsideGoalRootsError {
  return new OutsideGoalRootsError(path, roots.map((root) => resolve(root)));
}

/**
 * Refuses an opened file whose real path is not under the (real) roots. realpath and open are two
 * steps: a directory on the way swapped for a symlink between them opens a file elsewhere, which
 * O_NOFOLLOW (last component only) does not see. The kernel knows what the descriptor is: on Linux,
 * /proc/self/fd/N. Elsewhere there is no such link and the realpath check is all there is.
 */
export async function refuseUnlessOpenedUnder(handle: FileHandle, roots: readonly string[], path: string, given: readonly string[]): Promise<void> {
  if (process.platform !== "linux") return;
  let opened: string;
  try {
    opened = await readlink(`/proc/self/fd/${handle.fd}`);
  } catch (error) {
    // Fail closed: without /proc the server cannot tell where the file it opened lies.
    throw new FileUnreadableError(`goal file ${path}: cannot tell where the opened file lies (/proc/self/fd: ${describeErrno(error)}); mount /proc`, { cause: error });
  }
  if (!roots.some((root) => isUnder(opened, root))) throw outsideRoots(path, given);
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
  const bytes = Buffer.concat(chunks, total);
  try {
    // Fatal: invalid UTF-8 would otherwise become U+FFFD in the goal, the plan and every event quoting them.
    return UTF8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new InputError(`${what} ${path} is not UTF-8 text (line ${bytes.subarray(0, at).toString("latin1").split("\n").length}, byte ${at}); save it as UTF-8`);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The offset of the first byte of `bytes` that starts no valid UTF-8
 * sequence: the lenient decoder puts U+FFFD there, and every character
 * before it is valid, so its offset is the byte length of what precedes it.
 * A U+FFFD written in the file itself (EF BF BD) is passed over.
 */
function firstInvalidUtf8(bytes: Buffer): number {
  let offset = 0;
  for (const char of bytes.toString("utf8")) {
    if (char === "\uFFFD" && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
    offset += Buffer.byteLength(char);
  }
  return offset;
}
