import type { CallOptions, Context } from "../context.js";
import { checkTtl } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { HeldPlace } from "./held.js";
import { FairQueue, headOnly } from "./queue.js";
import { takePlace, tryTakePlace } from "./take-place.js";

export interface LockOptions {
  /** A lease of the lock's own with this TTL; by default the client's session lease. Minimum 1,000 ms. */
  ttlMs?: number;
  /** Who holds it, as `holder()` reports; default the client's id. */
  owner?: string;
}

export interface LockHolder {
  owner: string;
  token: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A held lock. `token` is the fencing token: strictly increasing across successive holders.
 * `signal` aborts before another holder can acquire. Pass it as `{ fence: held }` to fence writes.
 */
export class HeldLock extends HeldPlace implements AsyncDisposable {
  get token(): number {
    return this.ticket.createRevision;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/**
 * A fair (FIFO), fenced, lease-backed mutual-exclusion lock. Waiters queue in request order; a
 * release wakes only the next one.
 */
export class Lock {
  readonly name: string;
  readonly #ctx: Context;
  readonly #queue: FairQueue;
  readonly #ttlMs: number | undefined;
  readonly #owner: string;
  readonly #ownerBytes: Uint8Array;

  constructor(ctx: Context, name: string, opts: LockOptions = {}) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    if (opts.ttlMs !== undefined) checkTtl("ttlMs", opts.ttlMs);
    if (opts.owner !== undefined) checkName("owner", opts.owner);
    this.#ctx = ctx;
    this.#ttlMs = opts.ttlMs;
    this.#owner = opts.owner ?? ctx.clientId;
    this.#ownerBytes = enc.encode(this.#owner);
    this.#queue = new FairQueue(ctx.driver, ctx.hub, `${ctx.ns}lock/${segment(name)}/`);
  }

  /** Waits for the lock. Rejects with `TIMEOUT` after `timeoutMs` and `ABORTED` when `signal` aborts. */
  async acquire(opts: CallOptions = {}): Promise<HeldLock> {
    const ticket = await takePlace(this.#ctx, this.#queue, this.#ttlMs, this.#ownerBytes, headOnly, opts);
    return new HeldLock(this.#queue, ticket, this.#ctx.closed);
  }

  /** The lock if it is free now, else `undefined`; never waits. */
  async tryAcquire(opts: { signal?: AbortSignal } = {}): Promise<HeldLock | undefined> {
    const ticket = await tryTakePlace(this.#ctx, this.#queue, this.#ttlMs, this.#ownerBytes, headOnly, opts);
    return ticket && new HeldLock(this.#queue, ticket, this.#ctx.closed);
  }

  /** Runs `fn` while holding the lock and releases it after, whatever happens. */
  async withLock<T>(fn: (signal: AbortSignal, token: number) => Promise<T> | T, opts: CallOptions = {}): Promise<T> {
    if (typeof fn !== "function") throw invalid("fn", "expected a function");
    const held = await this.acquire(opts);
    try {
      return await fn(held.signal, held.token);
    } finally {
      await held.release();
    }
  }

  async isLocked(opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    return (await this.holder(opts)) !== undefined;
  }

  /** The current holder: its owner and fencing token. */
  async holder(opts: { signal?: AbortSignal } = {}): Promise<LockHolder | undefined> {
    const head = (await this.#queue.entries(opts.signal))[0];
    return head && { owner: dec.decode(head.value), token: head.createRevision };
  }
}

