import type { Driver } from "../driver/types.js";
import { invalid } from "../errors.js";
import { type Clock, systemClock } from "../internal/clock.js";

/** Time agreed across the cluster: the engine's clock, as estimated from here. */
export interface ClusterTime {
  ms: number;
  /** The true engine time is within ±uncertaintyMs of `ms` (half the best round trip). */
  uncertaintyMs: number;
}

/**
 * Reads the engine's clock NTP-style: several round trips, and the sample with the least delay
 * wins, since its midpoint is closest to when the engine read its clock. Local clock skew cancels
 * out: only the local clock's rate over one round trip matters.
 */
export class ClusterClock {
  readonly #driver: Driver;
  readonly #clock: Clock;

  constructor(driver: Driver, clock: Clock) {
    this.#driver = driver;
    this.#clock = clock;
  }

  /** Local wall time, to a fraction of a millisecond when it is the system clock. */
  #local(): number {
    return this.#clock === systemClock ? performance.timeOrigin + performance.now() : this.#clock.now();
  }

  async now(opts: { samples?: number; signal?: AbortSignal } = {}): Promise<ClusterTime> {
    const samples = opts.samples ?? 5;
    if (!Number.isSafeInteger(samples) || samples < 1 || samples > 100) throw invalid("samples", "expected an integer from 1 to 100");
    const sample = this.#driver.timeSample;
    if (sample) {
      // The driver keeps its own estimate of the engine's clock: one reading, its error as it says.
      return sample.call(this.#driver, opts.signal ? { signal: opts.signal } : {});
    }
    let best: { offset: number; delay: number } | undefined;
    const resolution = this.#driver.timeResolutionMs ?? 1;
    for (let i = 0; i < samples; i++) {
      const t0 = this.#local();
      const p0 = performance.now();
      // engines report whole units (ms, or s for etcd): the true reading lies somewhere in that unit
      const server = (await this.#driver.time(opts.signal ? { signal: opts.signal } : {})) + resolution / 2;
      const delay = performance.now() - p0;
      const offset = server - (t0 + delay / 2);
      if (!best || delay < best.delay) best = { offset, delay };
    }
    const b = best!;
    // Half the round trip, plus half of the engine's resolution.
    return { ms: this.#local() + b.offset, uncertaintyMs: b.delay / 2 + resolution / 2 };
  }
}
