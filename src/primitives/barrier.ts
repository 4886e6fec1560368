import { randomUUID } from "node:crypto";
import type { CallOptions, Context } from "../context.js";
import { checkPositiveInt } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { waitFor } from "./wait-for.js";

const EMPTY = new Uint8Array();

/**
 * A one-shot barrier: `wait()` resolves for everyone once `parties` callers are waiting. A party
 * is a key on the caller's session lease, so a crashed party stops counting. `reset()` arms it again.
 */
export class Barrier {
  readonly name: string;
  readonly parties: number;
  readonly #ctx: Context;
  readonly #prefix: string;
  readonly #done: string;

  constructor(ctx: Context, name: string, opts: { parties: number }) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null || opts.parties === undefined) throw invalid("parties", "is required");
    checkPositiveInt("parties", opts.parties);
    this.parties = opts.parties;
    this.#ctx = ctx;
    this.#prefix = `${ctx.ns}barrier/${segment(name)}/`;
    this.#done = `${this.#prefix}~tripped`;
  }

  async #tripped(signal?: AbortSignal): Promise<boolean> {
    return (await this.#ctx.driver.get(this.#done, signal ? { signal } : {})) !== undefined;
  }

  async wait(opts: CallOptions = {}): Promise<void> {
    const { driver } = this.#ctx;
    if (await this.#tripped(opts.signal)) return;
    const lease = await this.#ctx.leaseFor(undefined, opts.signal);
    const me = `${this.#prefix}p/${lease.id}:${randomUUID()}`;
    await driver.put(me, EMPTY, { lease: lease.id });
    try {
      await waitFor(this.#ctx, this.#prefix, async (signal) => {
        if (await this.#tripped(signal)) return true;
        const r = await driver.range(`${this.#prefix}p/`, { signal });
        if (r.entries.length < this.parties) return false;
        // The last to arrive trips it for good, so a party leaving after does not un-trip it.
        await driver.put(this.#done, EMPTY, { ifVersion: 0 });
        return true;
      }, opts);
    } finally {
      await driver.delete(me).catch(() => undefined);
    }
  }

  /** How many are waiting now. */
  async waiting(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#ctx.driver.range(`${this.#prefix}p/`, opts)).entries.length;
  }

  /** Arms the barrier again after it tripped. */
  async reset(opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#ctx.driver.delete(this.#done, opts);
  }
}
