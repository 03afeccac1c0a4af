import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkImports, importsOf } from "../.ci/check-imports.ts";
import { freshDir } from "./helpers.ts";

function tree(files: Record<string, string>): string {
  const root = freshDir();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the import rules CI checks", () => {
  test("the repository itself keeps them", () => {
    expect(checkImports()).toEqual([]);
  });

  test("a cycle through type-only imports is reported with its path", () => {
    const root = tree({
      "farcaster.ts": 'import "./src/a.ts";',
      "src/a.ts": 'import type { B } from "./b.ts";\nexport type A = 1;',
      "src/b.ts": 'import { type A } from "./a.ts";\nexport type B = 2;',
    });
    expect(checkImports(root)).toEqual(["import cycle: src/a.ts -> src/b.ts -> src/a.ts"]);
  });

  test("src/ importing workflows/, core importing upward and SQL outside the store are reported", () => {
    const root = tree({
      "farcaster.ts": "",
      "src/core/pure.ts": 'import { x } from "../engine/x.ts";',
      "src/engine/x.ts": 'import shell from "../../workflows/shell.ts";\nimport { Database } from "bun:sqlite";\nexport const x = 1;',
      "src/store/sqlite/ok.ts": 'import { Database } from "bun:sqlite";',
      "src/api/spawn.ts": 'import { spawn } from "bun";',
      "workflows/shell.ts": "export default {};",
    });
    expect(checkImports(root).sort()).toEqual([
      "src/core/pure.ts: imports src/engine/x.ts; src/core imports nothing of the rest of src/",
      'src/engine/x.ts: imports the database driver "bun:sqlite"; only src/store/<dialect>/ speaks SQL',
      "src/engine/x.ts: imports workflows/shell.ts; src/ never imports workflows/ (move what both need into src/)",
    ]);
  });

  test("imports in comments are not imports; re-exports and dynamic imports are", () => {
    expect(importsOf('// import "./a.ts"\n/* import x from "./b.ts" */\nexport { c } from "./c.ts";\nawait import("./d.ts");')).toEqual(["./c.ts", "./d.ts"]);
  });
});

describe("the suite's own rules", () => {
  const files = readdirSync(import.meta.dir).filter((name) => name.endsWith(".ts")).map((name) => ({ name, text: readFileSync(join(import.meta.dir, name), "utf8") }));

  test("no test waits on a store promise with expect().rejects/.resolves (it returns late under group commit: use rejected())", () => {
    const pattern = new RegExp(["\\.rej", "ects\\.|\\.res", "olves\\."].join(""));
    expect(files.filter((file) => pattern.test(file.text)).map((file) => file.name)).toEqual([]);
  });

  test("tests open stores through openTestStore, so each one is closed after its test", () => {
    const pattern = new RegExp(["new Sqlite", "Store\\("].join(""));
    expect(files.filter((file) => pattern.test(file.text)).map((file) => file.name)).toEqual([]);
  });
});
