import { jsonCodec } from "../codec.js";
import type { CallOptions, Context } from "../context.js";
import { checkPositiveInt } from "../driver/validate.js";
import { ConcordError } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { waitFor } from "./wait-for.js";

/**
 * A count-down latch: `wait()` resolves once `countDown()` has been called `count` times in all,
 * cluster-wide. It starts at `count` on first use and never goes below zero.
 */
export class Latch {
  readonly name: string;
  readonly initial: number;
  readonly #ctx: Context;
  readonly #key: string;

  constructor(ctx: Context, name: string, count: number) {
    this.name = checkName("name", name);
    if (count === undefined) throw new ConcordError("INVALID_ARGUMENT", "count: is required");
    checkPositiveInt("count", count);
    this.initial = count;
    this.#ctx = ctx;
    this.#key = `${ctx.ns}latch/${segment(name)}`;
  }

  async #read(signal?: AbortSignal): Promise<{ count: number; version: number }> {
    const e = await this.#ctx.driver.get(this.#key, signal ? { signal } : {});
    if (!e) return { count: this.initial, version: 0 };
    const v = jsonCodec.decode(e.value);
    if (typeof v !== "number") throw new ConcordError("CORRUPT", `latch ${this.name} holds a ${typeof v}, not a count`);
    return { count: v, version: e.modRevision };
  }

  /** What is left to count down. */
  async count(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#read(opts.signal)).count;
  }

  /** Counts down by one (not below zero) and returns what is left. */
  async countDown(opts: { signal?: AbortSignal } = {}): Promise<number> {
    for (;;) {
      const cur = await this.#read(opts.signal);
      if (cur.count === 0) return 0;
      const r = await this.#ctx.driver.put(this.#key, jsonCodec.encode(cur.count - 1), {
        ifVersion: cur.version,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (r.ok) return cur.count - 1;
    }
  }

  async wait(opts: CallOptions = {}): Promise<void> {
    await waitFor(this.#ctx, this.#key, async (signal) => (await this.#read(signal)).count === 0, opts);
  }
}
