/**
 * The routing of PostgreSQL's write lanes (src/store/postgres/lanes.ts),
 * against writers that record what each lane was given: an attempt's writes
 * go through the lane that claimed it until the drone is done with it; a
 * heartbeat is split by lane; writes of no attempt go through lane 0.
 * test/postgres-lanes.test.ts runs lanes on the real server.
 */
import { describe, expect, test } from "bun:test";
import { LeaseLostError } from "../src/core/errors.ts";
import { WriteLanes, type LaneWriter } from "../src/store/postgres/lanes.ts";
import type { Write } from "../src/store/postgres/writer.ts";
import { rejected } from "./helpers.ts";

interface Recorded {
  lane: number;
  label: string;
}

/** Writers that answer each write with what `answer` says for it, and log which lane got it. */
function lanes(count: number, answer: (label: string, lane: number) => unknown = () => null): { lanes: WriteLanes; log: Recorded[] } {
  const log: Recorded[] = [];
  const writers: LaneWriter[] = Array.from({ length: count }, (_, lane) => ({
    stats: { batches: lane, writes: 10 * lane, retries: 0 },
    drain: async () => {},
    write: async <T>(write: Write<T>) => {
      const label = (write as unknown as { label: string }).label;
      log.push({ lane, label });
      const value = answer(label, lane);
      if (value instanceof Error) throw value;
      return value as T;
    },
  }));
  return { lanes: new WriteLanes(writers), log };
}

function w<T = unknown>(label: string): Write<T> {
  return { kind: "hot", tasks: [], idempotent: true, run: async () => undefined as T, label } as unknown as Write<T>;
}

const claimed = (...attemptIds: number[]) => attemptIds.map((attemptId) => ({ attemptId }));
const claim = (label: string) => w<{ attemptId: number }[]>(label);

describe("write lanes", () => {
  test("an attempt's writes go through the lane that claimed it until the drone is done with it; then through lane 0", async () => {
    const { lanes: l, log } = lanes(3, (label) => (label === "claim-2" ? claimed(7, 8) : null));
    expect(await l.claim(2, claim("claim-2"))).toEqual(claimed(7, 8));
    await l.forAttempt(7, w("step-7"));
    await l.forAttempt(8, w("step-8"));
    await l.forAttempt(7, w("complete-7"));
    expect(l.remembered).toBe(2);
    l.forget(7);
    expect(l.remembered).toBe(1);
    await l.forAttempt(7, w("late-7")); // forgotten: no lane of its own any more
    await l.forAttempt(99, w("unknown"));
    await l.other(w("create-run"));
    expect(log).toEqual([
      { lane: 2, label: "claim-2" },
      { lane: 2, label: "step-7" },
      { lane: 2, label: "step-8" },
      { lane: 2, label: "complete-7" },
      { lane: 0, label: "late-7" },
      { lane: 0, label: "unknown" },
      { lane: 0, label: "create-run" },
    ]);
  });

  test("the lane is known before the claim's caller sees the attempts: a write sent at once goes through it", async () => {
    const { lanes: l, log } = lanes(2, (label) => (label === "claim" ? claimed(5) : null));
    await l.claim(1, claim("claim")).then(([task]) => l.forAttempt(task!.attemptId, w("first-step")));
    expect(log.map((r) => r.lane)).toEqual([1, 1]);
  });

  test("a heartbeat with a part that fails fails, after every part was answered; the lanes keep their attempts", async () => {
    let answered = 0;
    const { lanes: l } = lanes(3, (label) => {
      if (label === "claim-1") return claimed(10);
      if (label === "claim-2") return claimed(20);
      answered++;
      return label === "renew-1" ? new Error("connection reset") : [];
    });
    await l.claim(1, claim("claim-1"));
    await l.claim(2, claim("claim-2"));
    const error = await rejected(l.renew([{ attemptId: 10 }, { attemptId: 20 }, { attemptId: 30 }], (part, send) => send(w(`renew-${part[0]!.attemptId === 30 ? 0 : Math.floor(part[0]!.attemptId / 10)}`))));
    expect(error.message).toBe("connection reset");
    expect(answered).toBe(3);
    expect(l.remembered).toBe(2);
  });

  test("a heartbeat is split by lane, each part through its attempts' lane; the lost ids of all parts come back", async () => {
    const { lanes: l, log } = lanes(3, (label) => {
      if (label === "claim-1") return claimed(10, 11);
      if (label === "claim-2") return claimed(20);
      if (label === "renew-1") return [11];
      return [];
    });
    await l.claim(1, claim("claim-1"));
    await l.claim(2, claim("claim-2"));
    const parts: number[][] = [];
    const lost = await l.renew(
      [{ attemptId: 10 }, { attemptId: 20 }, { attemptId: 11 }, { attemptId: 30 }],
      (part, send) => {
        parts.push(part.map((lease) => lease.attemptId));
        const lane = part[0]!.attemptId === 30 ? 0 : Math.floor(part[0]!.attemptId / 10);
        return send(w(`renew-${lane}`));
      },
    );
    expect(lost).toEqual([11]);
    expect(parts.sort()).toEqual([[10, 11], [20], [30]]);
    expect(log.slice(2).map((r) => [r.label, r.lane]).sort()).toEqual([["renew-0", 0], ["renew-1", 1], ["renew-2", 2]]);
    await l.forAttempt(11, w("after-lost")); // a lost attempt's last writes (refused by the fence) keep its lane too
    expect(log.slice(5).map((r) => [r.label, r.lane])).toEqual([["after-lost", 1]]);
  });

  test("a claim through a lane the store does not have is refused, naming the range; the stats add up every lane", async () => {
    const { lanes: l, log } = lanes(2);
    for (const lane of [2, -1, 0.5]) {
      const error = await rejected(l.claim(lane, claim("claim")));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain("from 0 to 1");
    }
    expect(log).toEqual([]);
    expect(l.stats).toEqual({ batches: 1, writes: 10, retries: 0 });
    expect(l.count).toBe(2);
  });
});
