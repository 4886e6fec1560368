import type { Clock } from "../../internal/clock.js";

/** What one sweep reports: ms until the next lease deadline (null: no lease left) and the revision. */
export interface SweepOutcome {
  nextMs: number | null;
  revision: number;
}

export interface LeaseSweeperOptions {
  /** Runs one sweep judged at `now`; null lets the server's clock judge. */
  sweep(now: number | null): Promise<SweepOutcome>;
  /** Called after every successful sweep. */
  onSwept(outcome: SweepOutcome): void;
  /** Timers run on it. */
  clock: Clock;
  /** True when `clock`, not the server, judges lease expiry (tests with one shared ManualClock). */
  judges: boolean;
}

// Other clients grant and extend leases meanwhile, so look again at least this often.
const MAX_SLEEP_MS = 1000;
// After a failed sweep (the server is away), try again soon, but not in a tight loop.
const RETRY_MS = 250;

/**
 * Turns lease expiry into delete events. Every client runs one, so the keys of a client that died
 * are deleted even when no holder of its lease is left; clients sweeping at once take turns on the
 * server, and a lease is only ever expired once. It sleeps until the next deadline, at most a second.
 */
export class LeaseSweeper {
  readonly #opts: LeaseSweeperOptions;
  #timer: unknown;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(opts: LeaseSweeperOptions) {
    this.#opts = opts;
  }

  /**
   * The sweep in flight, if any. When a test clock judges leases, calls made after the clock passed a
   * deadline wait for it, so they see the expiry the clock caused, as they would on an embedded engine.
   */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Sweeps now (or right after the sweep in flight): a lease was found expired, or the driver started. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  async #run(): Promise<void> {
    // A ManualClock fires timers in the middle of advance(); read it once the advance is over.
    await Promise.resolve();
    const { clock, judges } = this.#opts;
    const sentAt = clock.now();
    let delay = RETRY_MS;
    try {
      const outcome = await this.#opts.sweep(judges ? sentAt : null);
      this.#opts.onSwept(outcome);
      // The server measured from when it ran; take off the time the answer took to arrive.
      delay = outcome.nextMs === null ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, outcome.nextMs - (clock.now() - sentAt));
    } catch {
      // Unreachable server: nothing can be expired through it now; the timer below tries again.
    }
    if (!this.#stopped) this.#timer = clock.setTimeout(() => this.kick(), Math.max(0, delay));
  }

  stop(): void {
    this.#stopped = true;
    this.#opts.clock.clearTimeout(this.#timer);
  }
}
