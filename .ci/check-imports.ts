/**
 * The import rules of design.md, checked on every CI run:
 *
 *   1. no import cycle among farcaster.ts, src/ and workflows/ (type-only imports count:
 *      a cycle of types is still two modules that cannot be understood apart);
 *   2. src/ never imports workflows/ (workflows sit on top of the engine);
 *   3. src/core imports nothing of the rest of src/ (it is pure: rules, types, catalogs);
 *   4. only src/store/<dialect>/ imports a database driver (bun:sqlite; SQL from "bun").
 *
 * usage: bun .ci/check-imports.ts   (exit 1 and one line per violation)
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(name) && !/\.d\.ts$/.test(name)) out.push(path);
  }
  return out;
}

/** Module specifiers of static imports, re-exports and dynamic imports with a literal path. */
export function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\bimport\(\s*["']([^"']+)["']\s*\)/g];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) specifiers.push(match[1]!);
  return specifiers;
}

function resolveLocal(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return null;
}

/** Tarjan's strongly connected components; every component of more than one file (or a self-import) is a cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indexOf.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.reverse());
    }
  };
  for (const node of graph.keys()) if (!indexOf.has(node)) visit(node);
  return found;
}

export function checkImports(root = ROOT): string[] {
  const files = [join(root, "farcaster.ts"), ...sourceFiles(join(root, "src")), ...sourceFiles(join(root, "workflows"))].filter((f) => existsSync(f));
  const rel = (path: string) => relative(root, path);
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of files) {
    const from = rel(file);
    const edges: string[] = [];
    for (const specifier of importsOf(readFileSync(file, "utf8"))) {
      if (specifier === "bun:sqlite" || specifier === "bun") {
        const driverHome = /^src\/store\/(sqlite|postgres)\//.test(from);
        // `from "bun"` is a driver import only when it brings SQL; other Bun APIs are fine anywhere.
        const isDriver = specifier === "bun:sqlite" || /\bSQL\b/.test(readFileSync(file, "utf8").match(/import[^;]*from\s*["']bun["']/)?.[0] ?? "");
        if (isDriver && !driverHome) problems.push(`${from}: imports the database driver "${specifier}"; only src/store/<dialect>/ speaks SQL`);
        continue;
      }
      const target = resolveLocal(file, specifier);
      if (!target) continue;
      const to = rel(target);
      if (from.startsWith("src/") && to.startsWith("workflows/")) problems.push(`${from}: imports ${to}; src/ never imports workflows/ (move what both need into src/)`);
      if (from.startsWith("src/core/") && !to.startsWith("src/core/")) problems.push(`${from}: imports ${to}; src/core imports nothing of the rest of src/`);
      if (files.includes(target)) edges.push(to);
    }
    graph.set(from, edges);
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
  return problems;
}

if (import.meta.main) {
  const problems = checkImports();
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`${problems.length} import rule violation(s)`);
    process.exit(1);
  }
  console.log("imports: no cycles, no upward imports");
}
