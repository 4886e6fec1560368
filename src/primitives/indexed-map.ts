import type { Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { invalid } from "../errors.js";
import { MapBase, type MapOptions } from "./map.js";
import { checkOpts, writeKey, type WriteOptions } from "./shared.js";

type Sig = { signal?: AbortSignal };

/** An entry of an indexed map: its key, its index (its place in insertion order), its value and version. */
export interface IndexedEntry<T> {
  key: string;
  /** Given when the key was inserted, unique and increasing across the map: an update keeps it, a key removed and put again gets a new one. */
  index: number;
  value: T;
  version: number;
}

/**
 * A shared map that also keeps its entries in insertion order (Atomix's IndexedMap): every entry has
 * an index, given when its key was inserted (the engine revision that created it, so unique and
 * increasing), and can be reached by index or by its neighbours. Each read is one consistent read
 * of the map; reads by index scan it, so keep these maps to thousands of entries, not millions.
 * `put` (an update keeps the entry's index), `remove`, `size`, `clear` and `watch` are the map's.
 */
export class IndexedMap<T = unknown> extends MapBase<T> {
  constructor(ctx: Context, name: string, opts: MapOptions<T> = {}) {
    super(ctx, "imap", name, opts, true);
  }

  #entry(e: Entry): IndexedEntry<T> {
    return { key: e.key.slice(this.base.length), index: e.createRevision, value: this.codec.decode(e.value), version: e.modRevision };
  }

  /** Every entry, in index (insertion) order, read at one revision. */
  async #all(opts: Sig): Promise<Entry[]> {
    checkOpts(opts);
    const r = await this.ctx.driver.range(this.base, opts);
    return r.entries.sort((a, b) => a.createRevision - b.createRevision);
  }

  async get(key: string, opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    const e = await this.ctx.driver.get(this.keyOf(key), opts);
    return e && this.#entry(e);
  }

  /** Inserts `key` at the end, only if it is absent: `{ ok: true, index, version }`, or what stands there. */
  async append(key: string, value: T, opts: Omit<WriteOptions, "ifVersion"> = {}): Promise<{ ok: true; index: number; version: number } | { ok: false; current: IndexedEntry<T> | undefined }> {
    const r = await writeKey(this.ctx, this.codec, this.keyOf(key), value, { ...opts, ifVersion: 0 });
    if (r.ok) return { ok: true, index: r.version, version: r.version }; // a created entry's createRevision is its version
    return { ok: false, current: await this.get(key, opts.signal ? { signal: opts.signal } : {}) };
  }

  /** The entry at `index`, if one has it. */
  async getIndex(index: number, opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    checkIndex(index);
    const e = (await this.#all(opts)).find((x) => x.createRevision === index);
    return e && this.#entry(e);
  }

  /** Removes the entry at `index` (only that entry: a key put again since has a new index). */
  async removeIndex(index: number, opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    const e = await this.getIndex(index, opts);
    if (!e) return undefined;
    const r = await this.ctx.driver.delete(this.base + e.key, { ifVersion: e.version, ...(opts.signal ? { signal: opts.signal } : {}) });
    return r.ok ? e : undefined;
  }

  async first(opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    const all = await this.#all(opts);
    return all.length ? this.#entry(all[0]!) : undefined;
  }

  async last(opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    const all = await this.#all(opts);
    return all.length ? this.#entry(all[all.length - 1]!) : undefined;
  }

  /** The entry after `index` in insertion order (`index` itself need not exist any more). */
  async next(index: number, opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    checkIndex(index);
    const e = (await this.#all(opts)).find((x) => x.createRevision > index);
    return e && this.#entry(e);
  }

  /** The entry before `index` in insertion order. */
  async prev(index: number, opts: Sig = {}): Promise<IndexedEntry<T> | undefined> {
    checkIndex(index);
    const e = (await this.#all(opts)).findLast((x) => x.createRevision < index);
    return e && this.#entry(e);
  }

  /** Every entry in insertion order, read at one revision. */
  async entries(opts: Sig = {}): Promise<Array<IndexedEntry<T>>> {
    return (await this.#all(opts)).map((e) => this.#entry(e));
  }


}

function checkIndex(index: unknown): void {
  if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0) throw invalid("index", `expected a non-negative integer, got ${String(index)}`);
}
