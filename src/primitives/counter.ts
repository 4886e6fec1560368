import { jsonCodec } from "../codec.js";
import { type Context, encodeValue } from "../context.js";
import { ConcordError, invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { type ChangeEvent, checkOpts, watchKeys, type WatchOptions } from "./shared.js";

function checkNumber(arg: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw invalid(arg, `expected a safe integer, got ${String(n)}`);
  return n;
}

/** A shared integer counter. Never written, it reads 0. Every operation is atomic on the engine. */
export class Counter {
  readonly name: string;
  readonly #ctx: Context;
  readonly #key: string;

  constructor(ctx: Context, name: string) {
    this.name = checkName("name", name);
    this.#ctx = ctx;
    this.#key = `${ctx.ns}counter/${segment(name)}`;
  }

  async #read(signal?: AbortSignal): Promise<{ value: number; version: number }> {
    const e = await this.#ctx.driver.get(this.#key, signal ? { signal } : {});
    if (!e) return { value: 0, version: 0 };
    const v = jsonCodec.decode(e.value);
    if (typeof v !== "number") throw new ConcordError("CORRUPT", `counter ${this.name} holds a ${typeof v}, not a number`);
    return { value: v, version: e.modRevision };
  }

  async get(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#read(opts.signal)).value;
  }

  /** Adds `by` (default 1) and returns the new value. */
  async increment(by = 1, opts: { signal?: AbortSignal } = {}): Promise<number> {
    checkNumber("by", by);
    checkOpts(opts);
    if (this.#ctx.driver.increment) {
      const e = await this.#ctx.driver.increment(this.#key, by, opts.signal ? { signal: opts.signal } : {});
      return jsonCodec.decode(e.value) as number;
    }
    for (;;) {
      const cur = await this.#read(opts.signal);
      const next = cur.value + by;
      if (!Number.isSafeInteger(next)) throw invalid("by", `the counter would leave the safe integer range`);
      if (await this.#cas(cur.version, next, opts.signal)) return next;
    }
  }

  decrement(by = 1, opts: { signal?: AbortSignal } = {}): Promise<number> {
    return this.increment(-checkNumber("by", by), opts);
  }

  async set(value: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
    checkNumber("value", value);
    const bytes = encodeValue(this.#ctx, jsonCodec, value);
    await this.#ctx.driver.put(this.#key, bytes, opts.signal ? { signal: opts.signal } : {});
  }

  /** Sets `next` only if the counter is `expect` now; true if it did. */
  async compareAndSet(expect: number, next: number, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    checkNumber("expect", expect);
    checkNumber("next", next);
    for (;;) {
      const cur = await this.#read(opts.signal);
      if (cur.value !== expect) return false;
      if (await this.#cas(cur.version, next, opts.signal)) return true;
    }
  }

  async #cas(version: number, next: number, signal?: AbortSignal): Promise<boolean> {
    const r = await this.#ctx.driver.put(this.#key, encodeValue(this.#ctx, jsonCodec, next), {
      ifVersion: version,
      ...(signal ? { signal } : {}),
    });
    return r.ok;
  }

  watch(opts?: WatchOptions): AsyncIterable<ChangeEvent<number>> {
    return watchKeys(this.#ctx, jsonCodec as never, this.#key, () => this.name, opts, this.#key);
  }
}
