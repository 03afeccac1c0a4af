/**
 * The command allow-list. A task's `scope.commands` holds patterns; a command
 * the model wants to run either matches one (it runs) or does not (the
 * workflow asks a person first).
 *
 * The rule, after trimming surrounding whitespace from both sides:
 *  1. A command equal to a pattern is allowed, whatever characters it holds.
 *  2. Otherwise a pattern matches the whole command line, where `*` stands for
 *     any run of characters (spaces and `/` included) and everything else is
 *     literal (no `?`, `[...]` or `{...}`).
 *  3. But a `*` never matches a shell metacharacter that could chain, pipe,
 *     background, substitute or redirect: `;` `&` `|` `` ` `` `$(` `<` `>`
 *     `(` `)`, newlines, or NUL. Those may appear in an allowed command only
 *     where the pattern spells them literally. So `bun test*` allows
 *     `bun test test/a.test.ts` but not `bun test; rm -rf /`,
 *     `bun test && curl …`, `bun test $(…)` or `bun test > ~/.bashrc`, while a
 *     pattern `bun test 2>&1 | tail*` allows exactly that pipeline.
 *
 * Quoting is not parsed: `echo "a;b"` is refused under `echo *` even though
 * the `;` is quoted. Refusing too much costs a human approval; parsing quotes
 * wrong costs the machine.
 */

export type CommandCheck = { allowed: true; pattern: string } | { allowed: false; reason: string };

/** One character class for what `*` may match: anything but the metacharacters above. */
const WILDCARD = "(?:[^;&|`<>()\\n\\r\\0$]|\\$(?!\\())*";

/** Longer command lines always need a person (and keep the pattern match cheap). */
const MAX_COMMAND_CHARS = 8_000;

const METACHARACTERS = /[;&|`<>()\n\r\0]|\$\(/;

export function checkCommand(command: string, patterns: readonly string[]): CommandCheck {
  const line = typeof command === "string" ? command.trim() : "";
  const allowed = patterns.length ? patterns.join(", ") : "(none)";
  if (line === "") return { allowed: false, reason: "the command is empty" };
  if (line.length > MAX_COMMAND_CHARS) return { allowed: false, reason: `the command is longer than ${MAX_COMMAND_CHARS} characters; a person must approve it` };
  for (const raw of patterns) {
    const pattern = raw.trim();
    if (pattern === "") continue;
    if (line === pattern || patternRegex(pattern).test(line)) return { allowed: true, pattern: raw };
  }
  const chained = METACHARACTERS.test(line)
    ? " (it contains shell metacharacters such as ; && || | ` $( > < that a pattern's * never matches; run one plain command at a time)"
    : "";
  return { allowed: false, reason: `\`${line}\` is not in this task's command allow-list${chained}; allowed patterns: ${allowed}` };
}

const cache = new Map<string, RegExp>();

function patternRegex(pattern: string): RegExp {
  let regex = cache.get(pattern);
  if (!regex) {
    const body = pattern
      .split("*")
      .map((literal) => literal.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
      .join(WILDCARD);
    regex = new RegExp(`^${body}$`, "s");
    cache.set(pattern, regex);
  }
  return regex;
}
