import type { CodecOption } from "../codec.js";
import type { Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { ConcordError, invalid } from "../errors.js";
import { after, between } from "../internal/positions.js";
import { checkOpts, deleteKey, PrefixPrimitive, type Versioned, versioned, writeKey, type WriteResult } from "./shared.js";

export interface ListOptions<T> {
  codec?: CodecOption<T>;
}

type Sig = { signal?: AbortSignal };

function checkIndex(i: unknown): number {
  if (typeof i !== "number" || !Number.isSafeInteger(i) || i < 0) throw invalid("index", `expected a non-negative integer, got ${String(i)}`);
  return i;
}

/**
 * A shared list. Each item is its own key ordered by a position string, so appends and inserts
 * from many clients never rewrite the whole list; index operations act on the list as read.
 * Watch events: `key` is the item's position string, which sorts in list order.
 */
export class SharedList<T = unknown> extends PrefixPrimitive<T> {
  constructor(ctx: Context, name: string, opts: ListOptions<T> = {}) {
    super(ctx, "list", name, opts, true);
  }

  async #all(signal?: AbortSignal): Promise<Entry[]> {
    return (await this.ctx.driver.range(this.base, signal ? { signal } : {})).entries;
  }

  async #at(index: unknown, signal?: AbortSignal): Promise<Entry> {
    const i = checkIndex(index);
    const e = (await this.#all(signal))[i];
    if (!e) throw new ConcordError("INVALID_ARGUMENT", `index: ${i} is out of range`);
    return e;
  }

  #pos(e: Entry): string {
    return e.key.slice(this.base.length);
  }

  /** Adds to the end; returns the new item's version. */
  async append(value: T, opts: Sig = {}): Promise<{ ok: true; version: number }> {
    checkOpts(opts);
    for (;;) {
      const all = await this.#all(opts.signal);
      const last = all[all.length - 1];
      const r = await writeKey(this.ctx, this.codec, this.base + after(last && this.#pos(last)), value, { ifVersion: 0, ...opts });
      if (r.ok) return r;
    }
  }

  /** Inserts before the item now at `index` (`index === size` appends). */
  async insert(index: number, value: T, opts: Sig = {}): Promise<{ ok: true; version: number }> {
    const i = checkIndex(index);
    checkOpts(opts);
    for (;;) {
      const all = await this.#all(opts.signal);
      if (i > all.length) throw invalid("index", `${i} is past the end of a list of ${all.length}`);
      const prev = all[i - 1];
      const next = all[i];
      const pos = next ? between(prev ? this.#pos(prev) : "", this.#pos(next)) : after(prev && this.#pos(prev));
      const r = await writeKey(this.ctx, this.codec, this.base + pos, value, { ifVersion: 0, ...opts });
      if (r.ok) return r;
    }
  }

  async get(index: number, opts: Sig = {}): Promise<Versioned<T> | undefined> {
    const i = checkIndex(index);
    return versioned(this.codec, (await this.#all(opts.signal))[i]);
  }

  /** Replaces the item at `index`, only if it is still the one read (else `ok: false`). */
  async set(index: number, value: T, opts: Sig & { ifVersion?: number } = {}): Promise<WriteResult<T>> {
    const e = await this.#at(index, opts.signal);
    return writeKey(this.ctx, this.codec, e.key, value, { ...opts, ifVersion: opts.ifVersion ?? e.modRevision });
  }

  /** Removes the item at `index`, only if it is still the one read. */
  async remove(index: number, opts: Sig & { ifVersion?: number } = {}): Promise<WriteResult<T>> {
    const e = await this.#at(index, opts.signal);
    return deleteKey(this.ctx, this.codec, e.key, { ...opts, ifVersion: opts.ifVersion ?? e.modRevision });
  }

  async items(opts: Sig = {}): Promise<T[]> {
    return (await this.#all(opts.signal)).map((e) => this.codec.decode(e.value));
  }

  override async size(opts: Sig = {}): Promise<number> {
    return (await this.#all(opts.signal)).length;
  }
}
