import { setMaxListeners } from "node:events";
import type { Driver } from "./driver/types.js";
import { ConcordError, isConcordError } from "./errors.js";
import type { Clock } from "./internal/clock.js";

/**
 * How long before its deadline a lease's signal aborts: TTL/20, at least 20 ms and at most 500 ms.
 * The engine expires the lease no earlier than the deadline, and another client may be handed the
 * lock the moment it does; a timer that fires a little late (a busy event loop, a GC pause) must
 * still abort this client's signal first.
 */
export function safetyMarginMs(ttlMs: number): number {
  return Math.min(500, Math.max(20, Math.floor(ttlMs / 20)));
}

/**
 * One granted lease as a client sees it. `signal` aborts (with a `LOCK_LOST` reason) a safety
 * margin ({@link safetyMarginMs}) before `deadline`: the send time of the last confirmed keep-alive
 * plus the TTL, on the local clock.
 */
export class LeaseHandle {
  readonly id: string;
  readonly ttlMs: number;
  readonly #ac = new AbortController();
  readonly #clock: Clock;
  readonly #marginMs: number;
  #deadline: number;
  #timer: unknown;

  constructor(id: string, ttlMs: number, sentAt: number, clock: Clock) {
    this.id = id;
    this.ttlMs = ttlMs;
    this.#clock = clock;
    this.#marginMs = safetyMarginMs(ttlMs);
    this.#deadline = sentAt + ttlMs;
    setMaxListeners(0, this.#ac.signal); // every handle on this lease listens: that is by design
    this.#arm();
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  get deadline(): number {
    return this.#deadline;
  }

  /** True while the lease is certainly alive; aborts the signal once within the safety margin of the deadline (e.g. after a pause). */
  alive(): boolean {
    if (!this.#ac.signal.aborted && this.#clock.now() >= this.#deadline - this.#marginMs) this.lose("its deadline passed without a confirmed keep-alive");
    return !this.#ac.signal.aborted;
  }

  /** Throws `LOCK_LOST` unless {@link alive}. */
  assertAlive(): void {
    if (!this.alive()) throw this.#ac.signal.reason as Error;
  }

  confirmed(sentAt: number): void {
    if (this.#ac.signal.aborted) return;
    this.#deadline = Math.max(this.#deadline, sentAt + this.ttlMs);
    this.#arm();
  }

  #arm(): void {
    this.#clock.clearTimeout(this.#timer);
    // A timer may fire a little before its time as Date.now() sees it (timers run on a monotonic
    // clock): if the lease still looks alive then, arm again rather than never abort.
    const check = (): void => {
      if (this.alive()) this.#arm();
    };
    this.#timer = this.#clock.setTimeout(check, Math.max(0, this.#deadline - this.#marginMs - this.#clock.now()));
  }

  lose(why: string): void {
    if (this.#ac.signal.aborted) return;
    this.#clock.clearTimeout(this.#timer);
    this.#ac.abort(new ConcordError("LOCK_LOST", `lease ${this.id} is lost: ${why}`));
  }
}

export interface SessionOptions {
  ttlMs: number;
  clock: Clock;
}

/**
 * A client's lease, kept alive in the background every third of its TTL. When a keep-alive cannot
 * be confirmed in time the lease's signal aborts, and with it every handle that depends on it; the
 * next call to {@link Session.lease} grants a fresh one.
 */
export class Session {
  readonly #driver: Driver;
  readonly #opts: SessionOptions;
  #current: Promise<LeaseHandle> | undefined;
  /** The last granted handle, for the fast path of {@link lease}. */
  #handle: LeaseHandle | undefined;
  #timer: unknown;
  #closed = false;

  constructor(driver: Driver, opts: SessionOptions) {
    this.#driver = driver;
    this.#opts = opts;
  }

  /** The live lease, granting a new one if there is none or the last was lost. */
  async lease(signal?: AbortSignal): Promise<LeaseHandle> {
    if (this.#closed) throw new ConcordError("CLOSED", "the session is closed");
    if (this.#handle?.alive()) return this.#handle;
    const cur = this.#current;
    if (cur) {
      const h = await cur.catch(() => undefined);
      if (h?.alive()) return h;
      if (this.#current !== cur) return this.lease(signal);
    }
    const next = this.#grant(signal);
    this.#current = next;
    next.catch(() => {
      if (this.#current === next) this.#current = undefined;
    });
    return next;
  }

  async #grant(signal?: AbortSignal): Promise<LeaseHandle> {
    const { clock } = this.#opts;
    const sentAt = clock.now();
    const l = await this.#driver.grantLease(this.#opts.ttlMs, signal ? { signal } : {});
    const h = new LeaseHandle(l.id, l.ttlMs, sentAt, clock);
    this.#handle = h;
    this.#schedule(h);
    return h;
  }

  #schedule(h: LeaseHandle): void {
    const { clock } = this.#opts;
    const every = Math.max(100, Math.floor(h.ttlMs / 3));
    const tick = async (): Promise<void> => {
      if (this.#closed || !h.alive()) return;
      const sentAt = clock.now();
      try {
        if (await this.#driver.keepAlive(h.id)) h.confirmed(sentAt);
        else h.lose("the engine says it expired");
      } catch (e) {
        // Unreachable engine: keep trying until the deadline aborts the handle.
        if (isConcordError(e, "CLOSED")) h.lose("the client closed");
      }
      if (!this.#closed && h.alive()) {
        const wait = Math.min(every, Math.max(50, (h.deadline - clock.now()) / 3));
        this.#timer = clock.setTimeout(() => void tick(), wait);
      }
    };
    this.#timer = clock.setTimeout(() => void tick(), every);
  }

  /** Revokes the lease (deleting its keys) and stops keeping it alive. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#opts.clock.clearTimeout(this.#timer);
    const h = await this.#current?.catch(() => undefined);
    if (!h) return;
    h.lose("the session closed");
    await this.#driver.revokeLease(h.id).catch(() => undefined);
  }
}
