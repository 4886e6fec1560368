import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/internal/clock.js";
import { LeaseHandle, safetyMarginMs } from "../../src/session.js";

/**
 * The one thing that aborts a held lock's signal when keep-alives stop getting through is the lease
 * handle's timer. Real timers may fire a little before their time as Date.now() sees it; the handle
 * must still abort, and before the deadline the engine judges by.
 */
describe("lease deadline", () => {
  it("a timer that fires early still leads to an abort, a safety margin before the deadline", async () => {
    // Timers fire 15 ms before they are due, as measured by now().
    const early: Clock = {
      now: () => Date.now(),
      setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms - 15)),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    const ttlMs = 1_000;
    const sentAt = Date.now();
    const h = new LeaseHandle("l1", ttlMs, sentAt, early);
    const abortedAt = await new Promise<number>((resolve, reject) => {
      h.signal.addEventListener("abort", () => resolve(Date.now()));
      setTimeout(() => reject(new Error("the lease signal never aborted")), 3 * ttlMs).unref();
    });
    expect(abortedAt).toBeLessThan(sentAt + ttlMs);
    expect(abortedAt).toBeGreaterThanOrEqual(sentAt + ttlMs - safetyMarginMs(ttlMs));
    expect(h.alive()).toBe(false);
  });

  it("the margin is TTL/20, between 20 and 500 ms", () => {
    expect(safetyMarginMs(1_000)).toBe(50);
    expect(safetyMarginMs(100)).toBe(20);
    expect(safetyMarginMs(60_000)).toBe(500);
  });
});
