import type { CodecOption } from "../codec.js";
import type { Context } from "../context.js";
import { checkName } from "../internal/names.js";
import { deleteKey, PrefixPrimitive, type Versioned, versioned, writeKey, type WriteOptions, type WriteResult } from "./shared.js";

export interface MapOptions<T> {
  codec?: CodecOption<T>;
}

type Sig = { signal?: AbortSignal };

/**
 * What a map and an indexed map share: one engine key per map key, written and removed the same
 * way; they differ in how entries are read back.
 */
export abstract class MapBase<T> extends PrefixPrimitive<T> {
  /** The engine key of map key `k`, checked. */
  protected keyOf(k: unknown): string {
    return this.base + checkName("key", k);
  }

  async put(key: string, value: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return writeKey(this.ctx, this.codec, this.keyOf(key), value, opts);
  }

  /** Removes `key`; an absent key is `{ ok: false, current: undefined }`. */
  async remove(key: string, opts?: WriteOptions): Promise<WriteResult<T>> {
    return deleteKey(this.ctx, this.codec, this.keyOf(key), opts);
  }
}

/** A shared map of string keys to values, each entry versioned on its own and watchable. */
export class SharedMap<T = unknown> extends MapBase<T> {
  constructor(ctx: Context, name: string, opts: MapOptions<T> = {}) {
    super(ctx, "map", name, opts, true);
  }

  async get(key: string, opts: Sig = {}): Promise<Versioned<T> | undefined> {
    return versioned(this.codec, await this.ctx.driver.get(this.keyOf(key), opts));
  }

  /** Applies `fn` to the entry with compare-and-set, retrying on conflict; returning `undefined` removes it. */
  async update(key: string, fn: (current: T | undefined) => T | undefined, opts: Sig = {}): Promise<Versioned<T> | undefined> {
    const k = this.keyOf(key);
    for (;;) {
      const cur = await this.get(key, opts);
      const next = fn(cur?.value);
      if (next === undefined) {
        if (!cur) return undefined;
        const r = await deleteKey(this.ctx, this.codec, k, { ifVersion: cur.version, ...opts });
        if (r.ok) return undefined;
        continue;
      }
      const r = await writeKey(this.ctx, this.codec, k, next, { ifVersion: cur?.version ?? 0, ...opts });
      if (r.ok) return { value: next, version: r.version };
    }
  }

  /** All entries in key order, read at one revision. */
  async entries(opts: Sig = {}): Promise<Array<[string, Versioned<T>]>> {
    const r = await this.ctx.driver.range(this.base, opts);
    return r.entries.map((e) => [e.key.slice(this.base.length), versioned(this.codec, e)!]);
  }

  async keys(opts: Sig = {}): Promise<string[]> {
    return (await this.entries(opts)).map(([k]) => k);
  }


}
