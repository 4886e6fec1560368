import type { CallOptions, Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { checkTtl } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { HeldLock } from "./lock.js";
import { FairQueue, headOnly } from "./queue.js";
import { takePlace, tryTakePlace } from "./take-place.js";

const READ = 0x72; // "r"
const WRITE = 0x77; // "w"

const isWriter = (e: Entry): boolean => e.value[0] === WRITE;

/** A reader waits only for writers ahead of it: the last one, since writers go one at a time. */
function readBlockers(ahead: Entry[]): string[] {
  for (let i = ahead.length - 1; i >= 0; i--) if (isWriter(ahead[i]!)) return [ahead[i]!.key];
  return [];
}

/**
 * A fair read-write lock: readers share it, a writer holds it alone, and requests are served in
 * order, so a waiting writer holds back every reader that came after it (no writer starvation).
 * Read and write handles are fenced like a lock's.
 */
export class ReadWriteLock {
  readonly name: string;
  readonly #ctx: Context;
  readonly #queue: FairQueue;
  readonly #ttlMs: number | undefined;
  readonly #owner: string;

  constructor(ctx: Context, name: string, opts: { ttlMs?: number } = {}) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    if (opts.ttlMs !== undefined) checkTtl("ttlMs", opts.ttlMs);
    this.#ctx = ctx;
    this.#ttlMs = opts.ttlMs;
    this.#owner = ctx.clientId;
    this.#queue = new FairQueue(ctx.driver, ctx.hub, `${ctx.ns}rwlock/${segment(name)}/`);
  }

  #tag(kind: number): Uint8Array {
    const owner = new TextEncoder().encode(this.#owner);
    const out = new Uint8Array(owner.length + 1);
    out[0] = kind;
    out.set(owner, 1);
    return out;
  }

  /** Shared access: waits while a writer holds or waits ahead. */
  async read(opts: CallOptions = {}): Promise<HeldLock> {
    const t = await takePlace(this.#ctx, this.#queue, this.#ttlMs, this.#tag(READ), readBlockers, opts);
    return new HeldLock(this.#queue, t, this.#ctx.closed);
  }

  /** Exclusive access: waits for everyone ahead, readers and writers. */
  async write(opts: CallOptions = {}): Promise<HeldLock> {
    const t = await takePlace(this.#ctx, this.#queue, this.#ttlMs, this.#tag(WRITE), headOnly, opts);
    return new HeldLock(this.#queue, t, this.#ctx.closed);
  }

  async tryRead(opts: { signal?: AbortSignal } = {}): Promise<HeldLock | undefined> {
    const t = await tryTakePlace(this.#ctx, this.#queue, this.#ttlMs, this.#tag(READ), readBlockers, opts);
    return t && new HeldLock(this.#queue, t, this.#ctx.closed);
  }

  async tryWrite(opts: { signal?: AbortSignal } = {}): Promise<HeldLock | undefined> {
    const t = await tryTakePlace(this.#ctx, this.#queue, this.#ttlMs, this.#tag(WRITE), headOnly, opts);
    return t && new HeldLock(this.#queue, t, this.#ctx.closed);
  }
}
