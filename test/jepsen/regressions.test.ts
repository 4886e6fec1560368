import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { connect } from "../../src/index.js";
import { type Clock, ManualClock } from "../../src/internal/clock.js";

/**
 * A process pause as the holder sees it: time jumps forward, and the timers that were due during the
 * pause have not run yet (they run after whatever callback wakes first).
 */
class PausableClock implements Clock {
  readonly inner = new ManualClock();
  #skew = 0;
  now(): number {
    return this.inner.now() + this.#skew;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.inner.setTimeout(fn, ms);
  }
  clearTimeout(handle: unknown): void {
    this.inner.clearTimeout(handle);
  }
  /** Time passes; no timer fires. */
  pause(ms: number): void {
    this.#skew += ms;
  }
}

/** Anomalies the Jepsen runs found, each kept as a test of its own. */
describe("jepsen regressions", () => {
  // Found by `npm run jepsen -- --engine sqlite --primitive election` (SIGSTOP past the TTL): after
  // SIGCONT the holder's loop woke on its own short sleep before the lease timer ran, read
  // `signal.aborted === false` and believed it still led, while another client already did.
  it("a holder's signal reads aborted right after a pause past its deadline, before any timer runs", async () => {
    const clock = new PausableClock();
    const c = await connect(`memory:reg-${randomUUID()}`, { ttlMs: 1000, clock });
    try {
      const held = await c.lock("l").acquire();
      const lead = await c.election("e").campaign();
      expect(held.signal.aborted).toBe(false);
      expect(lead.signal.aborted).toBe(false);
      clock.pause(5000);
      expect(held.signal.aborted).toBe(true);
      expect(lead.signal.aborted).toBe(true);
    } finally {
      await c.close();
    }
  });
});
