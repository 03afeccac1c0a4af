/** The options bench/drone.ts and bench/latency.ts share, checked. */
import { count, duration, nonNegative, positive } from "../lib/args.ts";
import type { CrashSettings } from "./crash.ts";
import type { DispatchSettings } from "./dispatch.ts";

export const LATENCY_OPTIONS = {
  concurrency: { type: "string", default: "8" },
  handoffs: { type: "string", default: "250" },
  hold: { type: "string", default: "20" },
  repeats: { type: "string", default: "3" },
  lease: { type: "string", default: "2s" },
  "wait-quiet": { type: "string", default: "0" },
  json: { type: "boolean", default: false },
} as const;

export interface LatencySettings {
  dispatch: DispatchSettings;
  crash: CrashSettings;
  waitQuietMs: number;
  json: boolean;
}

export function latencySettings(values: Record<string, string | boolean | undefined>): LatencySettings {
  const concurrency = count("--concurrency", values.concurrency as string | undefined);
  return {
    dispatch: {
      concurrency,
      handoffs: count("--handoffs", values.handoffs as string | undefined),
      holdMs: positive("--hold", values.hold as string | undefined),
    },
    crash: {
      concurrency,
      repeats: count("--repeats", values.repeats as string | undefined),
      leaseMs: duration("--lease", values.lease as string | undefined),
    },
    waitQuietMs: nonNegative("--wait-quiet", values["wait-quiet"] as string | undefined) * 1000,
    json: Boolean(values.json),
  };
}
