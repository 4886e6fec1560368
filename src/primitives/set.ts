import type { CodecOption } from "../codec.js";
import type { Context } from "../context.js";
import { invalid } from "../errors.js";
import { deleteKey, PrefixPrimitive, writeKey, type WriteOptions, type WriteResult } from "./shared.js";

export interface SetOptions<T> {
  codec?: CodecOption<T>;
}

type Sig = { signal?: AbortSignal };

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * A shared set. A member's identity is its encoded bytes; `add` of a present member is
 * `{ ok: false, current }`, and `remove` of an absent one `{ ok: false, current: undefined }`.
 * Watch events: `key` is the member's hex id; a put carries the member as `value`.
 */
export class SharedSet<T = unknown> extends PrefixPrimitive<T> {
  constructor(ctx: Context, name: string, opts: SetOptions<T> = {}) {
    super(ctx, "set", name, opts, true);
  }

  #key(member: T): string {
    const id = hex(this.codec.encode(member));
    if (id.length > 2048) throw invalid("member", "is over 1 KiB encoded; set members are keys and must be small");
    return this.base + id;
  }

  add(member: T, opts: Omit<WriteOptions, "ifVersion"> = {}): Promise<WriteResult<T>> {
    return writeKey(this.ctx, this.codec, this.#key(member), member, { ...opts, ifVersion: 0 });
  }

  remove(member: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return deleteKey(this.ctx, this.codec, this.#key(member), opts);
  }

  async has(member: T, opts: Sig = {}): Promise<boolean> {
    return (await this.ctx.driver.get(this.#key(member), opts)) !== undefined;
  }

  async values(opts: Sig = {}): Promise<T[]> {
    return (await this.ctx.driver.range(this.base, opts)).entries.map((e) => this.codec.decode(e.value));
  }
}
