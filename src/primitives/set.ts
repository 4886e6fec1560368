import { type Codec, type CodecOption, resolveCodec } from "../codec.js";
import type { Context } from "../context.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { type ChangeEvent, checkOpts, deleteKey, watchKeys, type WatchOptions, writeKey, type WriteOptions, type WriteResult } from "./shared.js";

export interface SetOptions<T> {
  codec?: CodecOption<T>;
}

type Sig = { signal?: AbortSignal };

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * A shared set. A member's identity is its encoded bytes; `add` of a present member is
 * `{ ok: false, current }`, and `remove` of an absent one `{ ok: false, current: undefined }`.
 */
export class SharedSet<T = unknown> {
  readonly name: string;
  readonly #ctx: Context;
  readonly #codec: Codec<T>;
  readonly #prefix: string;

  constructor(ctx: Context, name: string, opts: SetOptions<T> = {}) {
    this.name = checkName("name", name);
    checkOpts(opts);
    this.#ctx = ctx;
    this.#codec = resolveCodec(opts.codec);
    this.#prefix = `${ctx.ns}set/${segment(name)}/`;
  }

  #key(member: T): string {
    const id = hex(this.#codec.encode(member));
    if (id.length > 2048) throw invalid("member", "is over 1 KiB encoded; set members are keys and must be small");
    return this.#prefix + id;
  }

  add(member: T, opts: Omit<WriteOptions, "ifVersion"> = {}): Promise<WriteResult<T>> {
    return writeKey(this.#ctx, this.#codec, this.#key(member), member, { ...opts, ifVersion: 0 });
  }

  remove(member: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return deleteKey(this.#ctx, this.#codec, this.#key(member), opts);
  }

  async has(member: T, opts: Sig = {}): Promise<boolean> {
    return (await this.#ctx.driver.get(this.#key(member), opts)) !== undefined;
  }

  async values(opts: Sig = {}): Promise<T[]> {
    return (await this.#ctx.driver.range(this.#prefix, opts)).entries.map((e) => this.#codec.decode(e.value));
  }

  async size(opts: Sig = {}): Promise<number> {
    return (await this.#ctx.driver.range(this.#prefix, opts)).entries.length;
  }

  async clear(opts: Sig = {}): Promise<void> {
    checkOpts(opts);
    await this.#ctx.driver.deletePrefix(this.#prefix, opts);
  }

  /** Changes: `key` is the member's hex id; a put carries the member as `value`. */
  watch(opts?: WatchOptions): AsyncIterable<ChangeEvent<T>> {
    return watchKeys(this.#ctx, this.#codec, this.#prefix, (k) => k.slice(this.#prefix.length), opts);
  }
}
