/** Whether a drone's process still runs: known only on its own machine (its id names host and pid). */
import { hostname } from "node:os";
import type { ProcessProbe } from "../view/workers.ts";

export const localProcessProbe: ProcessProbe = (host, pid) => {
  if (host !== hostname()) return null;
  try {
    process.kill(Number(pid), 0); // signal 0: no signal, only the check
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};
