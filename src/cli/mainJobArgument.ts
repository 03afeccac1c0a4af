/**
 * `farcaster goal.md` (or a plan's .json, or any path) is the main job: the
 * one rule for it, read by the command line (main.ts) and by the runtime
 * tuning that runs before anything else is loaded (runtimeTuning.ts).
 */
export function isMainJobArgument(first: string): boolean {
  return /\.(json|md)$/i.test(first) || first.includes("/");
}
