import { describe, expect, test } from "bun:test";
import { InputError } from "../src/core/errors.ts";
import { CATCH_UP_MAX_SLOTS, dueSlots, nextSlot, slotsBetween, validateCron } from "../src/engine/cron.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("cron slots", () => {
  test("a weekday 09:00 schedule in a named timezone fires at the right instants across a DST change", () => {
    const spec = { cron: "0 9 * * 1-5", timezone: "America/New_York" };
    // DST starts in New York on Sunday 2026-03-08: 09:00 is 14:00Z before and 13:00Z after.
    const { slots } = slotsBetween(spec, at("2026-03-05T00:00:00Z"), at("2026-03-11T00:00:00Z"));
    expect(slots.map(iso)).toEqual(["2026-03-05T14:00:00.000Z", "2026-03-06T14:00:00.000Z", "2026-03-09T13:00:00.000Z", "2026-03-10T13:00:00.000Z"]);
  });

  test("a slot inside the hour skipped by DST fires once, not zero or two times", () => {
    const spec = { cron: "30 2 * * *", timezone: "Europe/Berlin" };
    const { slots } = slotsBetween(spec, at("2026-03-28T00:00:00Z"), at("2026-03-30T12:00:00Z"));
    expect(slots.map(iso)).toEqual(["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
  });

  test("seconds-level expressions are allowed", () => {
    expect(iso(nextSlot({ cron: "*/2 * * * * *", timezone: "UTC" }, at("2026-01-01T00:00:00.500Z"))!)).toBe("2026-01-01T00:00:02.000Z");
  });

  test("an invalid expression and an unknown timezone are refused naming the field", () => {
    expect(() => validateCron({ cron: "61 * * * *", timezone: "UTC" })).toThrow(InputError);
    expect(() => validateCron({ cron: "61 * * * *", timezone: "UTC" })).toThrow('cron expression "61 * * * *" is invalid: Invalid value for minute: 61;');
    expect(() => validateCron({ cron: "* * * * *", timezone: "Mars/Olympus" })).toThrow('timezone "Mars/Olympus" is not an IANA timezone');
    expect(() => validateCron({ cron: "0 9 * * 1-5", timezone: "Europe/Berlin" })).not.toThrow();
  });

  test("an expression no date matches (the 31st of February) is refused: stored, it would never fire", () => {
    expect(() => validateCron({ cron: "0 9 31 2 *", timezone: "UTC" })).toThrow('cron expression "0 9 31 2 *" never matches a date; check its day and month fields');
    expect(() => validateCron({ cron: "0 9 29 2 *", timezone: "UTC" })).not.toThrow(); // leap years have one
  });
});

describe("catch-up after downtime", () => {
  const hourly = { cron: "0 * * * *", timezone: "UTC" };
  const last = at("2026-01-01T00:00:00Z");
  const now = at("2026-01-01T05:10:00Z"); // 01:00 … 05:00 came due while down

  test("latest fires only the most recent missed slot", () => {
    expect(dueSlots(hourly, last, now, "latest")).toEqual({ fire: [at("2026-01-01T05:00:00Z")], missed: 4 });
  });

  test("all fires each missed slot, oldest first", () => {
    const due = dueSlots(hourly, last, now, "all");
    expect(due.fire.map(iso)).toEqual(["01", "02", "03", "04", "05"].map((h) => `2026-01-01T${h}:00:00.000Z`));
    expect(due.missed).toBe(0);
  });

  test("all is bounded: a window of a day and at most a fixed number of slots", () => {
    const everyMinute = { cron: "* * * * *", timezone: "UTC" };
    const due = dueSlots(everyMinute, at("2026-01-01T00:00:00Z"), at("2026-01-03T00:00:00Z"), "all");
    expect(due.fire).toHaveLength(CATCH_UP_MAX_SLOTS);
    expect(due.fire.at(-1)).toBe(at("2026-01-03T00:00:00Z"));
    expect(due.missed).toBe(2 * 24 * 60 - CATCH_UP_MAX_SLOTS);
  });

  test("none fires nothing that was missed, but a slot due right now still fires", () => {
    expect(dueSlots(hourly, last, now, "none")).toEqual({ fire: [], missed: 5 });
    expect(dueSlots(hourly, last, at("2026-01-01T05:00:20Z"), "none")).toEqual({ fire: [at("2026-01-01T05:00:00Z")], missed: 4 });
  });

  test("nothing due, nothing fired", () => {
    expect(dueSlots(hourly, last, at("2026-01-01T00:59:59Z"), "latest")).toEqual({ fire: [], missed: 0 });
  });
});
