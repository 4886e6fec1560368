import type { Clock } from "../../internal/clock.js";

/** Runs one sweep; resolves to the ms until the next lease deadline, or -1 if no lease is left. */
export type SweepOnce = () => Promise<number>;

/** Even with no deadline in sight, look again this often: other clients grant and extend leases. */
const LOOK_AGAIN_MS = 1000;
/** Sweeps in flight at once; more wait their turn (a slow server should not be flooded). */
const MAX_IN_FLIGHT = 4;

/**
 * Expires leases on time. Every client of a keyspace runs one, so the keys of a client that died
 * are deleted at its lease's deadline even when no client of that lease is left. The sweep itself
 * (scripts/sweep.lua) judges deadlines by the one lease clock; this only decides when to ask.
 */
export class LeaseSweeper {
  readonly #sweep: SweepOnce;
  readonly #clock: Clock;
  #timer: unknown;
  /** When the armed timer fires, on `clock`. */
  #at = Number.POSITIVE_INFINITY;
  #inFlight = 0;
  #queued = false;
  #stopped = false;

  constructor(sweep: SweepOnce, clock: Clock) {
    this.#sweep = sweep;
    this.#clock = clock;
  }

  /** Makes sure a sweep runs within `delayMs` (an earlier one already planned stands). */
  within(delayMs: number): void {
    if (this.#stopped) return;
    const at = this.#clock.now() + delayMs;
    if (this.#timer !== undefined && this.#at <= at) return;
    this.#clock.clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, delayMs));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    if (this.#stopped) return;
    // Armed before the sweep is sent, so a timer exists even while the reply is on its way.
    this.within(LOOK_AGAIN_MS);
    if (this.#inFlight >= MAX_IN_FLIGHT) {
      this.#queued = true;
      return;
    }
    this.#inFlight++;
    // Sent now, synchronously: a caller that advances a test clock and then reads sees its effect.
    void this.#sweep().then(
      (nextMs) => {
        if (nextMs >= 0) this.within(Math.min(nextMs, LOOK_AGAIN_MS));
      },
      () => undefined, // an unreachable server: the timer above tries again
    ).finally(() => {
      this.#inFlight--;
      if (this.#queued && !this.#stopped) {
        this.#queued = false;
        this.#fire();
      }
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
