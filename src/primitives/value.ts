import type { CodecOption } from "../codec.js";
import type { Context } from "../context.js";
import {
  CodecPrimitive,
  type ChangeEvent,
  deleteKey,
  type Versioned,
  versioned,
  watchKeys,
  type WatchOptions,
  writeKey,
  type WriteOptions,
  type WriteResult } from "./shared.js";

export interface ValueOptions<T> {
  codec?: CodecOption<T>;
}

/** One shared value with optimistic versions: every write returns a version and takes `ifVersion`. */
export class SharedValue<T = unknown> extends CodecPrimitive<T> {
  constructor(ctx: Context, name: string, opts: ValueOptions<T> = {}) {
    super(ctx, "value", name, opts, false);
  }

  async get(opts: { signal?: AbortSignal } = {}): Promise<Versioned<T> | undefined> {
    return versioned(this.codec, await this.ctx.driver.get(this.base, opts));
  }

  set(value: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return writeKey(this.ctx, this.codec, this.base, value, opts);
  }

  /** Deletes the value; an absent value is `{ ok: false, current: undefined }`. */
  delete(opts?: WriteOptions): Promise<WriteResult<T>> {
    return deleteKey(this.ctx, this.codec, this.base, opts);
  }

  /** Applies `fn` to the current value and writes the result with compare-and-set, retrying on conflict. */
  async update(fn: (current: T | undefined) => T, opts: { signal?: AbortSignal } = {}): Promise<Versioned<T>> {
    for (;;) {
      const cur = await this.get(opts);
      const next = fn(cur?.value);
      const r = await this.set(next, { ifVersion: cur?.version ?? 0, ...opts });
      if (r.ok) return { value: next, version: r.version };
    }
  }

  watch(opts?: WatchOptions): AsyncIterable<ChangeEvent<T>> {
    return watchKeys(this.ctx, this.codec, this.base, () => this.name, opts, this.base);
  }
}

