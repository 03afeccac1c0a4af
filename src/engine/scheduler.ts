/**
 * The scheduler: finds due slots (croner, catch-up policy) and fires them
 * through the store, where a (schedule, slot) key makes any number of
 * schedulers fire each slot once. It never sleeps longer than MAX_SLEEP_MS
 * before looking again, so a clock jump or a suspended machine loses no fire
 * (the same reasoning as croner's own 30 s maxDelay).
 */
import { hostname } from "node:os";
import { systemClock, type Clock } from "../core/clock.ts";
import type { FireRequest, FireResult, ScheduleRecord, Store } from "../store/types.ts";
import { dueSlots, nextSlot, slotsBetween } from "./cron.ts";

export const MAX_SLEEP_MS = 30_000;
/** Schedules added or resumed by another process are seen within this long. */
export const RESCAN_MS = 5_000;

/** What a fire of a schedule creates (a planning run's goal and input), or with `error` why it cannot. */
export type FireInput = Pick<FireRequest, "goal" | "planningInput" | "error">;
export type PrepareFire = (schedule: ScheduleRecord) => FireInput | Promise<FireInput>;

export interface SchedulerOptions {
  store: Store;
  prepareFire: PrepareFire;
  clock?: Clock;
  id?: string;
  onFire?: (schedule: ScheduleRecord, slot: number, result: FireResult) => void;
}

export class Scheduler {
  readonly id: string;
  private readonly clock: Clock;
  private stopped = false;
  private wake: () => void = () => {};
  private loop: Promise<void> | null = null;

  constructor(private readonly options: SchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.id = options.id ?? `scheduler:${hostname()}:${process.pid}`;
  }

  /** Fires what is due now; returns how long until the next slot (capped). */
  async tick(): Promise<number> {
    const { store, prepareFire } = this.options;
    const now = this.clock.now();
    let sleep = RESCAN_MS;
    for (const schedule of await store.listSchedules({ enabledOnly: true })) {
      const spec = { cron: schedule.cron, timezone: schedule.timezone };
      const last = schedule.lastSlot ?? schedule.createdAt;
      const due = dueSlots(spec, last, now, schedule.catchUp);
      if (due.missed > 0) {
        const through = due.fire.length > 0 ? due.fire[0]! - 1 : slotsBetween(spec, last, now, 1).slots[0] ?? now;
        await store.recordScheduleMissed(schedule.id, through, due.missed, schedule.catchUp, this.id);
      }
      for (const slot of due.fire) {
        const result = await store.fireSchedule({ scheduleId: schedule.id, slot, actor: this.id, ...(await prepareFire(schedule)) });
        this.options.onFire?.(schedule, slot, result);
      }
      const next = nextSlot(spec, now);
      if (next !== null) sleep = Math.min(sleep, Math.max(0, next - now));
    }
    return sleep;
  }

  start(): this {
    this.loop ??= (async () => {
      while (!this.stopped) {
        let sleep = MAX_SLEEP_MS;
        try {
          sleep = await this.tick();
        } catch (error) {
          console.error(`farcaster scheduler: ${(error as Error).message}`);
        }
        if (this.stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(MAX_SLEEP_MS, sleep + 5));
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
    return this;
  }

  /** Look again now (a schedule was added or resumed in this process). */
  poke(): void {
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }
}
