/** Reading a workplan JSON file, with errors that name the file and the fix. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { InputError } from "../core/errors.ts";

/** The file's JSON, unvalidated: checkPlan validates it with the workflows in view. */
export function readPlanFile(path: string): unknown {
  if (!existsSync(path)) throw new InputError(`plan file ${path} does not exist; pass the path of a workplan JSON file`);
  if (statSync(path).isDirectory()) throw new InputError(`${path} is a directory; pass the path of a workplan JSON file`);
  const text = readFileSync(path, "utf8");
  if (text.trim() === "") throw new InputError(`plan file ${path} is empty; it should hold a workplan: {"goal": "...", "tasks": [...]}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InputError(`plan file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return data;
}
