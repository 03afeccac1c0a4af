/**
 * The task's blast radius, enforced in code. An agent task works inside one
 * workspace (the run's working directory): it may read anything in it, write
 * only paths its scope's `writes` globs allow, and run without a gate only the
 * commands its `commands` patterns allow. The prompt may say the same things,
 * but these checks are what holds.
 *
 * Paths are checked twice: lexically (`..`, absolute paths) and on disk (the
 * realpath, following every symlink the OS would follow, must stay inside the
 * workspace's realpath). Files that do not exist yet are resolved through
 * their nearest existing parent. The check and the write are not atomic; the
 * agent's own tools run one at a time, so only an outside process could race it.
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { FarcasterError } from "../core/errors.ts";
import { checkCommand, type CommandCheck } from "./command.ts";

export interface Scope {
  writes: readonly string[];
  commands: readonly string[];
}

export type ScopeViolationCode = "outside_workspace" | "symlink_escape" | "not_in_write_scope" | "no_write_scope" | "protected_path";

/** A refused path. The message is written for the model: what was refused, why, and what is allowed. */
export class ScopeViolation extends FarcasterError {
  declare readonly code: ScopeViolationCode;
  readonly path: string;
  constructor(code: ScopeViolationCode, path: string, message: string) {
    super(code, message);
    this.path = path;
  }
}

export interface ResolvedPath {
  /** Absolute path to hand to fs calls. */
  abs: string;
  /** Relative to the workspace root, with `/` separators ("." for the root itself). */
  rel: string;
  /** Where it really lands, every symlink followed (inside the workspace's realpath). */
  real: string;
}

/**
 * Directories no agent may write into, whatever its globs say: `.git` (hooks
 * there run code on the next git command) and `.farcaster` (the engine's own state).
 */
const PROTECTED_SEGMENTS = new Set([".git", ".farcaster"]);

/** Symlink hops allowed while resolving one path (Linux gives up at 40 too). */
const MAX_LINK_HOPS = 40;

export class Workspace {
  readonly root: string;
  readonly realRoot: string;
  readonly scope: Scope;

  constructor(root: string, scope: Partial<Scope> = {}) {
    if (!isAbsolute(root)) throw new FarcasterError("bad_workspace", `workspace root must be an absolute path, got "${root}"`);
    this.root = resolve(root);
    try {
      this.realRoot = realpathSync(this.root);
    } catch (error) {
      throw new FarcasterError("bad_workspace", `workspace root ${this.root} does not exist`, { cause: error });
    }
    // "./src/**" and "src/**" mean the same thing; globs are matched against "src/a.ts".
    const writes = (scope.writes ?? []).map((glob) => glob.replace(/^(\.\/)+/, ""));
    this.scope = { writes, commands: [...(scope.commands ?? [])] };
  }

  /** Resolves a model-supplied path for reading; throws ScopeViolation if it leaves the workspace. */
  resolveForRead(path: string): ResolvedPath {
    return this.resolve(path, "read");
  }

  /** Resolves a path for writing: inside the workspace, and inside the task's write scope. */
  resolveForWrite(path: string): ResolvedPath {
    const allowed = this.allowedWrites();
    if (this.scope.writes.length === 0) {
      throw new ScopeViolation(
        "no_write_scope",
        path,
        `write refused: this task has no write scope (scope.writes is empty), so it cannot create or change files; report what you would change in finish instead`,
      );
    }
    const resolved = this.resolve(path, "write");
    const realRel = toRel(relative(this.realRoot, resolved.real));
    // Check both names: the one the model used and the file the bytes would land in.
    for (const rel of new Set([resolved.rel, realRel])) {
      if (rel.split("/").some((part) => PROTECTED_SEGMENTS.has(part))) {
        throw new ScopeViolation("protected_path", path, `write refused: "${path}" is inside ${[...PROTECTED_SEGMENTS].join(" or ")}, which no task may write; this task may write: ${allowed}`);
      }
      if (!this.scope.writes.some((glob) => new Bun.Glob(glob).match(rel))) {
        const via = rel === resolved.rel ? "" : ` (it resolves through a symlink to "${rel}")`;
        throw new ScopeViolation("not_in_write_scope", path, `write refused: "${path}"${via} is not in this task's write scope; this task may write: ${allowed}`);
      }
    }
    return resolved;
  }

  /** Whether `command` may run without a human gate (see command.ts for the rule). */
  checkCommand(command: string): CommandCheck {
    return checkCommand(command, this.scope.commands);
  }

  private allowedWrites(): string {
    return this.scope.writes.length ? this.scope.writes.join(", ") : "(nothing)";
  }

  private resolve(path: string, action: "read" | "write"): ResolvedPath {
    const suffix = action === "write" ? `; this task may write: ${this.allowedWrites()}` : "; use a path relative to the workspace root";
    if (typeof path !== "string" || path.includes("\0")) {
      throw new ScopeViolation("outside_workspace", String(path), `${action} refused: the path is not a valid file name${suffix}`);
    }
    const abs = resolve(this.root, path === "" ? "." : path);
    // An absolute path spelled through the workspace's realpath is inside too.
    const base = isInside(this.root, abs) ? this.root : isInside(this.realRoot, abs) ? this.realRoot : undefined;
    if (base === undefined) {
      throw new ScopeViolation("outside_workspace", path, `${action} refused: "${path}" is outside the workspace${suffix}`);
    }
    const real = this.realpath(abs);
    if (real === undefined || !isInside(this.realRoot, real)) {
      const where = real === undefined ? "a symlink loop" : `a symlink to ${real}, which is outside the workspace`;
      throw new ScopeViolation("symlink_escape", path, `${action} refused: "${path}" goes through ${where}${suffix}`);
    }
    return { abs, rel: toRel(relative(base, abs)), real };
  }

  /**
   * Where the OS would land for `abs`: walks it one component at a time,
   * following symlinks (dangling ones too, which a write would follow and
   * create the target of). The first missing component ends the walk; what
   * follows it would be created as plain directories, so it is appended as is.
   */
  private realpath(abs: string): string | undefined {
    let done = "/";
    const todo = abs.split(sep).filter(Boolean);
    let hops = 0;
    while (todo.length > 0) {
      const part = todo.shift()!;
      if (part === ".") continue;
      if (part === "..") {
        done = resolve(done, "..");
        continue;
      }
      const next = join(done, part);
      let isLink: boolean;
      try {
        isLink = lstatSync(next).isSymbolicLink();
      } catch {
        return resolve(next, ...todo); // does not exist (yet)
      }
      if (!isLink) {
        done = next;
        continue;
      }
      if (++hops > MAX_LINK_HOPS) return undefined; // a symlink loop
      const target = readlinkSync(next);
      if (isAbsolute(target)) done = "/";
      todo.unshift(...target.split(sep).filter(Boolean));
    }
    return done;
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
}

function toRel(rel: string): string {
  return rel === "" ? "." : rel.split(sep).join("/");
}
