import { closedError, ConcordError, invalid, isConcordError, throwIfAborted } from "../errors.js";
import type {
  DeleteOptions,
  DeleteResult,
  Driver,
  Entry,
  Lease,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  WatchEvent,
  WatchOptions,
} from "./types.js";
import { checkBytes, checkKey, checkLeaseId, checkPositiveInt, checkTtl, checkVersion } from "./validate.js";

type Sig = { signal?: AbortSignal };

/**
 * Wraps an engine's driver once: validates every argument (so no engine sees bad input), refuses
 * use after close with `CLOSED`, honours `signal`, and turns stray engine errors into `UNAVAILABLE`.
 */
export class RuntimeDriver implements Driver {
  readonly #inner: Driver;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(inner: Driver) {
    this.#inner = inner;
    const inc = inner.increment?.bind(inner);
    if (inc) {
      this.increment = (key, delta, opts = {}) =>
        this.#run(opts.signal, () => {
          checkKey("key", key);
          if (!Number.isSafeInteger(delta)) throw invalid("delta", `expected a safe integer, got ${String(delta)}`);
          return inc(key, delta, opts);
        });
    }
    const fast = inner.putAndRange?.bind(inner);
    if (fast) {
      this.putAndRange = (key, value, opts, prefix) =>
        this.#run(opts.signal, () => {
          this.#checkPut(key, value, opts);
          checkKey("prefix", prefix, { allowEmpty: true });
          return fast(key, value, opts, prefix);
        });
    }
  }

  readonly putAndRange?: Driver["putAndRange"];
  readonly increment?: Driver["increment"];

  #checkPut(key: string, value: Uint8Array, opts: PutOptions): void {
    checkKey("key", key);
    checkBytes("value", value);
    checkVersion("ifVersion", opts.ifVersion);
    if (opts.lease !== undefined) checkLeaseId("lease", opts.lease);
    if (opts.guard !== undefined) {
      checkKey("guard.key", opts.guard.key);
      checkVersion("guard.version", opts.guard.version);
    }
  }

  get engine(): string {
    return this.#inner.engine;
  }

  get timeResolutionMs(): number | undefined {
    return this.#inner.timeResolutionMs;
  }

  async #run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(`the ${this.engine} driver`);
    throwIfAborted(signal);
    try {
      return await fn();
    } catch (e) {
      if (isConcordError(e)) throw e;
      if (this.#closed) throw closedError(`the ${this.engine} driver`);
      throw new ConcordError("UNAVAILABLE", `${this.engine}: ${(e as Error)?.message ?? String(e)}`, {
        cause: e,
        engine: this.engine,
      });
    }
  }

  get(key: string, opts: Sig = {}): Promise<Entry | undefined> {
    return this.#run(opts.signal, () => {
      checkKey("key", key);
      return this.#inner.get(key, opts);
    });
  }

  range(prefix: string, opts: RangeOptions & Sig = {}): Promise<RangeResult> {
    return this.#run(opts.signal, () => {
      checkKey("prefix", prefix, { allowEmpty: true });
      checkPositiveInt("limit", opts.limit);
      if (opts.startAfter !== undefined) checkKey("startAfter", opts.startAfter);
      return this.#inner.range(prefix, opts);
    });
  }

  put(key: string, value: Uint8Array, opts: PutOptions & Sig = {}): Promise<PutResult> {
    return this.#run(opts.signal, () => {
      this.#checkPut(key, value, opts);
      return this.#inner.put(key, value, opts);
    });
  }

  delete(key: string, opts: DeleteOptions & Sig = {}): Promise<DeleteResult> {
    return this.#run(opts.signal, () => {
      checkKey("key", key);
      checkVersion("ifVersion", opts.ifVersion);
      if (opts.guard !== undefined) {
        checkKey("guard.key", opts.guard.key);
        checkVersion("guard.version", opts.guard.version);
      }
      return this.#inner.delete(key, opts);
    });
  }

  deletePrefix(prefix: string, opts: Sig = {}): Promise<{ deleted: number; revision: number }> {
    return this.#run(opts.signal, () => {
      checkKey("prefix", prefix);
      return this.#inner.deletePrefix(prefix, opts);
    });
  }

  revision(opts: Sig = {}): Promise<number> {
    return this.#run(opts.signal, () => this.#inner.revision(opts));
  }

  grantLease(ttlMs: number, opts: Sig = {}): Promise<Lease> {
    return this.#run(opts.signal, () => {
      checkTtl("ttlMs", ttlMs);
      return this.#inner.grantLease(ttlMs, opts);
    });
  }

  keepAlive(id: string, opts: Sig = {}): Promise<boolean> {
    return this.#run(opts.signal, () => {
      checkLeaseId("id", id);
      return this.#inner.keepAlive(id, opts);
    });
  }

  revokeLease(id: string, opts: Sig = {}): Promise<void> {
    return this.#run(opts.signal, () => {
      checkLeaseId("id", id);
      return this.#inner.revokeLease(id, opts);
    });
  }

  compact(revision: number, opts: Sig = {}): Promise<void> {
    return this.#run(opts.signal, () => {
      checkVersion("revision", revision);
      return this.#inner.compact(revision, opts);
    });
  }

  time(opts: Sig = {}): Promise<number> {
    return this.#run(opts.signal, () => this.#inner.time(opts));
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    if (this.#closed) throw closedError(`the ${this.engine} driver`);
    checkKey("prefix", prefix, { allowEmpty: true });
    checkVersion("fromRevision", opts.fromRevision);
    return this.#inner.watch(prefix, opts);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#inner.close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
