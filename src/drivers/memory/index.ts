import { RuntimeDriver } from "../../driver/runtime.js";
import { changeLogWatch } from "../../driver/poll-watch.js";
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
} from "../../driver/types.js";
import { type Clock, systemClock } from "../../internal/clock.js";
import { MemoryStore } from "./store.js";
import { addInteger, integerBytes } from "../../driver/integer.js";

export { MemoryStore } from "./store.js";

export interface MemoryDriverOptions {
  /** Clients given the same name (or the same store) share one keyspace. Default: "default". */
  name?: string;
  /** A store to share explicitly, instead of by name. */
  store?: MemoryStore;
  /** The clock that judges lease expiry; inject a ManualClock in tests. Only used when the store is created. */
  clock?: Clock;
  /** How many changes are kept for watch replay before older ones are compacted. Default 10,000. */
  historyLimit?: number;
}

/**
 * Named stores of this module. A store lives while a client has it open, so two `connect("memory:x")`
 * in one process share state and a test that closes all its clients starts clean next time.
 */
const named = new Map<string, MemoryStore>();

class MemoryDriver implements Driver {
  readonly engine = "memory";
  readonly #store: MemoryStore;
  readonly #release: () => void;
  readonly #closed = new AbortController();

  constructor(store: MemoryStore, release: () => void) {
    this.#store = store;
    this.#release = release;
    store.refs++;
  }

  async get(key: string): Promise<Entry | undefined> {
    return this.#store.get(key);
  }
  async range(prefix: string, opts: RangeOptions = {}): Promise<RangeResult> {
    const { entries, more } = this.#store.range(prefix, opts.startAfter, opts.limit ?? Number.MAX_SAFE_INTEGER);
    return { entries, more, revision: this.#store.revision };
  }
  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    return this.#store.put(key, value, opts);
  }
  async increment(key: string, delta: number): Promise<Entry> {
    const cur = this.#store.get(key);
    const r = this.#store.put(key, integerBytes(addInteger(cur, delta, "memory")), {});
    return (r as { entry: Entry }).entry;
  }
  async putAndRange(key: string, value: Uint8Array, opts: PutOptions, prefix: string): Promise<{ put: PutResult; range: RangeResult }> {
    const put = this.#store.put(key, value, opts);
    return { put, range: await this.range(prefix) };
  }
  async delete(key: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return this.#store.delete(key, opts);
  }
  async deletePrefix(prefix: string): Promise<{ deleted: number; revision: number }> {
    return this.#store.deletePrefix(prefix);
  }
  async revision(): Promise<number> {
    return this.#store.revision;
  }
  async grantLease(ttlMs: number): Promise<Lease> {
    return { id: this.#store.grantLease(ttlMs), ttlMs };
  }
  async keepAlive(id: string): Promise<boolean> {
    return this.#store.keepAlive(id);
  }
  async revokeLease(id: string): Promise<void> {
    this.#store.revokeLease(id);
  }
  async compact(revision: number): Promise<void> {
    this.#store.compact(revision);
  }
  async time(): Promise<number> {
    return this.#store.clock.now();
  }
  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    const store = this.#store;
    return changeLogWatch(
      {
        changesSince: async (p, from, limit) => store.changesSince(p, from, limit),
        currentRevision: async () => store.revision,
        changed: store.changed,
        closed: this.#closed.signal,
      },
      prefix,
      opts,
    );
  }
  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    if (--this.#store.refs === 0) this.#release();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A driver over an in-process store: the fastest engine, and the one to use in your own tests. */
export function createMemoryDriver(opts: MemoryDriverOptions = {}): Driver {
  if (opts.store) return new RuntimeDriver(new MemoryDriver(opts.store, () => {}));
  const name = opts.name ?? "default";
  let store = named.get(name);
  if (!store) {
    store = new MemoryStore(opts.clock ?? systemClock, opts.historyLimit ?? 10_000);
    named.set(name, store);
  }
  const s = store;
  return new RuntimeDriver(
    new MemoryDriver(s, () => {
      s.dispose();
      if (named.get(name) === s) named.delete(name);
    }),
  );
}
