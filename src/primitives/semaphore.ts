import type { CallOptions, Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { checkPositiveInt, checkTtl } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { HeldLock } from "./lock.js";
import { FairQueue } from "./queue.js";
import { takePlace, tryTakePlace } from "./take-place.js";

export interface SemaphoreOptions {
  /** How many may hold at once. Every client of one semaphore must agree on it. */
  permits: number;
  /** A lease of the semaphore's own; by default the client's session lease. */
  ttlMs?: number;
}

/**
 * A counting semaphore: at most `permits` holders at once, granted first come first served. Each
 * permit is lease-backed and fenced like a lock (its own token and signal).
 */
export class Semaphore {
  readonly name: string;
  readonly permits: number;
  readonly #ctx: Context;
  readonly #queue: FairQueue;
  readonly #ttlMs: number | undefined;
  readonly #owner: Uint8Array;
  readonly #blockers: (ahead: Entry[]) => string[];

  constructor(ctx: Context, name: string, opts: SemaphoreOptions) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected { permits }");
    if (opts.permits === undefined) throw invalid("permits", "is required");
    checkPositiveInt("permits", opts.permits);
    if (opts.ttlMs !== undefined) checkTtl("ttlMs", opts.ttlMs);
    this.permits = opts.permits;
    this.#ctx = ctx;
    this.#ttlMs = opts.ttlMs;
    this.#owner = new TextEncoder().encode(ctx.clientId);
    this.#queue = new FairQueue(ctx.driver, ctx.hub, `${ctx.ns}semaphore/${segment(name)}/`);
    // Any holder ahead of us leaving may free the permit we wait for.
    this.#blockers = (ahead) => (ahead.length < this.permits ? [] : ahead.map((e) => e.key));
  }

  /** Waits for a permit; the handle's `release()` gives it back. */
  async acquire(opts: CallOptions = {}): Promise<HeldLock> {
    const t = await takePlace(this.#ctx, this.#queue, this.#ttlMs, this.#owner, this.#blockers, opts);
    return new HeldLock(this.#queue, t, this.#ctx.closed);
  }

  async tryAcquire(opts: { signal?: AbortSignal } = {}): Promise<HeldLock | undefined> {
    const t = await tryTakePlace(this.#ctx, this.#queue, this.#ttlMs, this.#owner, this.#blockers, opts);
    return t && new HeldLock(this.#queue, t, this.#ctx.closed);
  }

  /** Permits free now. */
  async available(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return Math.max(0, this.permits - (await this.#queue.entries(opts.signal)).length);
  }
}
