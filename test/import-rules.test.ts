import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
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
