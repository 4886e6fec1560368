import { type Codec, type CodecOption, resolveCodec } from "../codec.js";
import { checkFence, type Context, encodeValue, type Fence, lockLost } from "../context.js";
import type { Entry, WatchEvent } from "../driver/types.js";
import { checkVersion } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName, segment } from "../internal/names.js";
import { abortableIterable } from "../internal/stream.js";

/** A read: the value and its version (the modRevision of the write that made it). */
export interface Versioned<T> {
  value: T;
  version: number;
}

/** The outcome of a write: its version, or what stood in the way. */
export type WriteResult<T> = { ok: true; version: number } | { ok: false; current: Versioned<T> | undefined };

/** A change, as every primitive's `watch()` yields it. */
export interface ChangeEvent<T> {
  type: "put" | "delete";
  key: string;
  value?: T;
  version: number;
}

export interface WriteOptions {
  /** `0`: only if absent; `n`: only if the current version is `n`. */
  ifVersion?: number;
  /** A held lock or leadership: the write happens only while it is still held, else `LOCK_LOST`. */
  fence?: Fence;
  signal?: AbortSignal;
}

export interface WatchOptions {
  /** Replay from this version inclusive; default only changes after the call. */
  fromVersion?: number;
  signal?: AbortSignal;
}

export function checkOpts(o: unknown): void {
  if (o !== undefined && (typeof o !== "object" || o === null)) throw invalid("options", "expected an object");
}

export function versioned<T>(codec: Codec<T>, e: Entry | undefined): Versioned<T> | undefined {
  return e && { value: codec.decode(e.value), version: e.modRevision };
}

/** A put through the codec, the size limit, `ifVersion` and the fence: the one write path of every primitive. */
export async function writeKey<T>(
  ctx: Context,
  codec: Codec<T>,
  key: string,
  value: T,
  opts: WriteOptions = {},
): Promise<WriteResult<T>> {
  checkOpts(opts);
  checkVersion("ifVersion", opts.ifVersion);
  const fence = checkFence(opts.fence);
  const bytes = encodeValue(ctx, codec, value);
  const r = await ctx.driver.put(key, bytes, {
    ifVersion: opts.ifVersion,
    guard: fence?.fenceGuard,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.ok) return { ok: true, version: r.entry.modRevision };
  if (r.guardFailed && fence) throw lockLost(fence);
  return { ok: false, current: versioned(codec, r.current) };
}

export async function deleteKey<T>(
  ctx: Context,
  codec: Codec<T>,
  key: string,
  opts: WriteOptions = {},
): Promise<WriteResult<T>> {
  checkOpts(opts);
  checkVersion("ifVersion", opts.ifVersion);
  const fence = checkFence(opts.fence);
  const r = await ctx.driver.delete(key, {
    ifVersion: opts.ifVersion,
    guard: fence?.fenceGuard,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.ok) return { ok: true, version: r.revision };
  if (r.guardFailed && fence) throw lockLost(fence);
  return { ok: false, current: versioned(codec, r.current) };
}

/** Watches `prefix` (keeping only `exact` if given), mapping engine events to {@link ChangeEvent}s. */
export function watchKeys<T>(
  ctx: Context,
  codec: Codec<T>,
  prefix: string,
  name: (key: string) => string,
  opts: WatchOptions = {},
  exact?: string,
): AsyncIterable<ChangeEvent<T>> {
  checkOpts(opts);
  checkVersion("fromVersion", opts.fromVersion);
  return abortableIterable([opts.signal, ctx.closed], (signal) =>
    (async function* () {
      for await (const ev of ctx.driver.watch(prefix, { fromRevision: opts.fromVersion, signal })) {
        if (signal.aborted) return;
        if (exact !== undefined && ev.key !== exact) continue;
        yield toChange(codec, ev, name(ev.key));
      }
    })(),
  );
}

function toChange<T>(codec: Codec<T>, ev: WatchEvent, key: string): ChangeEvent<T> {
  return ev.type === "put"
    ? { type: "put", key, value: codec.decode(ev.entry.value), version: ev.revision }
    : { type: "delete", key, version: ev.revision };
}

/**
 * What every codec-backed primitive (value, map, set, list) holds: its name, the client's context,
 * its codec, and its key (`kind/name`) or key prefix (`kind/name/`).
 */
export abstract class CodecPrimitive<T> {
  readonly name: string;
  protected readonly ctx: Context;
  protected readonly codec: Codec<T>;
  protected readonly base: string;

  constructor(ctx: Context, kind: string, name: string, opts: { codec?: CodecOption<T> } | undefined, asPrefix: boolean) {
    this.name = checkName("name", name);
    checkOpts(opts);
    this.ctx = ctx;
    this.codec = resolveCodec(opts?.codec);
    this.base = `${ctx.ns}${kind}/${segment(name)}${asPrefix ? "/" : ""}`;
  }
}

/**
 * A codec-backed primitive whose entries are the keys under its prefix (map, indexed map, set,
 * list): counted, cleared and watched the same way; a watch event's `key` is the entry's key under
 * the prefix (a map key, a set member's hex id, a list item's position string).
 */
export abstract class PrefixPrimitive<T> extends CodecPrimitive<T> {
  async size(opts: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.ctx.driver.range(this.base, opts)).entries.length;
  }

  async clear(opts: { signal?: AbortSignal } = {}): Promise<void> {
    checkOpts(opts);
    await this.ctx.driver.deletePrefix(this.base, opts);
  }

  watch(opts?: WatchOptions): AsyncIterable<ChangeEvent<T>> {
    return watchKeys(this.ctx, this.codec, this.base, (k) => k.slice(this.base.length), opts);
  }
}
