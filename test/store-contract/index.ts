/**
 * The Store contract suite: every behaviour of the Store interface
 * (src/store/types.ts), asserted through the interface alone, so that every
 * implementation runs the same tests (as River runs riverdrivertest against
 * each driver). A database provides a StoreFactory and calls
 *
 *   storeContract("sqlite", sqliteFactory);   // test/store-contract.sqlite.test.ts
 *
 * No test here reads the database behind the store: no SQL, no file, no
 * `store.db`. What only one database does (its PRAGMAs, WAL, locks, the
 * claim's upkeep interval) is tested beside it, in test/<dialect>-*.test.ts.
 * Time comes from a ManualClock the tests move; nothing sleeps for a state.
 */
import { describe } from "bun:test";
import { claimContract } from "./claims.ts";
import { dispatchContract } from "./dispatch.ts";
import { eventContract } from "./events.ts";
import { fencingContract } from "./fencing.ts";
import { gateContract } from "./gates.ts";
import { gateEdgeContract } from "./gateEdges.ts";
import { jsonTextContract } from "./jsonText.ts";
import { contractHarness, type StoreFactory } from "./harness.ts";
import { leaseContract } from "./leases.ts";
import { lifecycleContract } from "./lifecycle.ts";
import { logContract } from "./logs.ts";
import { operatorContract } from "./operators.ts";
import { metricsContract } from "./metrics.ts";
import { outcomeContract } from "./outcomes.ts";
import { planningContract } from "./planning.ts";
import { readSideContract } from "./readSide.ts";
import { runContract } from "./runs.ts";
import { scheduleContract } from "./schedules.ts";
import { scheduleLogContract } from "./scheduleLog.ts";
import { signalContract } from "./signals.ts";
import { usageContract } from "./usage.ts";
import { viewerContract } from "./viewer.ts";
import { waitingContract } from "./waiting.ts";

export type { ContractOpenOptions, ContractStores, StoreFactory } from "./harness.ts";

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`the Store contract (${name})`, () => {
    const open = contractHarness(factory);
    runContract(open);
    planningContract(open);
    claimContract(open);
    leaseContract(open);
    dispatchContract(open);
    fencingContract(open);
    outcomeContract(open);
    waitingContract(open);
    gateContract(open);
    gateEdgeContract(open);
    signalContract(open);
    lifecycleContract(open);
    usageContract(open);
    scheduleContract(open);
    scheduleLogContract(open);
    logContract(open);
    eventContract(open);
    readSideContract(open);
    viewerContract(open);
    operatorContract(open);
    metricsContract(open);
    jsonTextContract(open);
  });
}
