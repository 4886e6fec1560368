import type { Driver, Entry, RangeResult, WatchEvent } from "../driver/types.js";
import { Notifier } from "../internal/deferred.js";
import type { WatchHub } from "../internal/watch-hub.js";

/**
 * A fair queue as this client's watch stream sees it: every entry under the prefix, first come
 * first, kept current from the client's one watch stream. It lives while some waiter of this client
 * waits on the queue, and is shared by all of them, so a waiter that joins (again) learns who is
 * ahead of it from here instead of reading the whole queue from the engine: with 1,000 waiters a
 * join costs one write, not a read of 1,000 entries.
 */
export class QueueView {
  readonly #driver: Driver;
  readonly #hub: WatchHub;
  readonly #prefix: string;
  readonly #onIdle: () => void;
  readonly #byKey = new Map<string, Entry>();
  /** The entries, by createRevision. */
  #order: Entry[] = [];
  /** The revision the view is current at; undefined while it is (re)read. */
  #at: number | undefined;
  /** Changes that arrive while the view is read, applied after the read. */
  #backlog: WatchEvent[] = [];
  #readGen = 0;
  #reading = false;
  #refs = 0;
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  readonly #changed = new Notifier();

  constructor(driver: Driver, hub: WatchHub, prefix: string, onIdle: () => void) {
    this.#driver = driver;
    this.#hub = hub;
    this.#prefix = prefix;
    this.#onIdle = onIdle;
  }

  /** The revision the view is current at, or undefined while it is being read. */
  get at(): number | undefined {
    return this.#at;
  }

  /** One more user: the first subscribes to the hub and reads the queue (in the background). */
  ref(): void {
    if (this.#closed) return;
    if (this.#refs++ === 0) void this.#open();
    else if (this.#at === undefined && this.#unsubscribe && !this.#reading) void this.#read().catch(() => undefined);
  }

  unref(): void {
    if (--this.#refs > 0) return;
    this.#closed = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#changed.notify();
    this.#onIdle();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #open(): Promise<void> {
    try {
      const off = await this.#hub.subscribe(this.#prefix, (ev) => this.#onEvent(ev));
      if (this.#closed) {
        off();
        return;
      }
      this.#unsubscribe = off;
      await this.#read();
    } catch {
      // The engine is away: users of the view read the queue themselves meanwhile.
    }
  }

  async #read(): Promise<void> {
    const gen = ++this.#readGen;
    let r: RangeResult;
    this.#reading = true;
    try {
      r = await this.#driver.range(this.#prefix);
    } finally {
      if (gen === this.#readGen) this.#reading = false;
    }
    if (gen !== this.#readGen || this.#closed) return;
    this.#byKey.clear();
    for (const e of r.entries) this.#byKey.set(e.key, e);
    this.#order = r.entries.sort((a, b) => a.createRevision - b.createRevision);
    this.#at = r.revision;
    for (const ev of this.#backlog.splice(0)) this.#apply(ev);
    this.#changed.notify();
  }

  #onEvent(ev: WatchEvent | undefined): void {
    if (ev === undefined) {
      // History was lost: read again.
      this.#at = undefined;
      this.#backlog.length = 0;
      void this.#read().catch(() => undefined);
      return;
    }
    if (this.#at === undefined) {
      this.#backlog.push(ev);
      return;
    }
    this.#apply(ev);
    this.#changed.notify();
  }

  #apply(ev: WatchEvent): void {
    if (ev.revision <= this.#at!) return;
    this.#at = ev.revision;
    const had = this.#byKey.get(ev.key);
    if (ev.type === "put") {
      this.#byKey.set(ev.key, ev.entry);
      if (had === undefined) {
        // A new key is the newest in the queue: its createRevision is this revision.
        this.#order.push(ev.entry);
      } else {
        const i = this.#indexOf(had);
        if (i >= 0) this.#order[i] = ev.entry;
      }
    } else if (had !== undefined) {
      this.#byKey.delete(ev.key);
      const i = this.#indexOf(had);
      if (i === 0) this.#order.shift(); // the usual case, the head leaving: V8 trims the front without copying
      else if (i > 0) this.#order.splice(i, 1);
    }
  }

  /** Index in #order of `e` (by its createRevision: binary search). */
  #indexOf(e: Entry): number {
    let lo = 0;
    let hi = this.#order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.#order[mid]!.createRevision;
      if (c === e.createRevision) return mid;
      if (c < e.createRevision) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Whether `key` is in the queue, as of {@link at}. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** Everyone ahead of `createRevision`, first come first, as of {@link at} (the view must be current). */
  aheadOf(createRevision: number): Entry[] {
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#order[mid]!.createRevision < createRevision) lo = mid + 1;
      else hi = mid;
    }
    return this.#order.slice(0, lo);
  }

  /**
   * Waits until the view has seen `revision` (a write of ours just made), for `maxWaitMs` at most;
   * false if it has not by then (the watch lags, or the view was closed or lost its history).
   */
  async reach(revision: number, maxWaitMs: number): Promise<boolean> {
    const deadline = AbortSignal.timeout(maxWaitMs);
    for (;;) {
      const seen = this.#changed.seq;
      if (this.#closed) return false;
      if (this.#at !== undefined && this.#at >= revision) return true;
      try {
        await this.#changed.wait(seen, deadline);
      } catch {
        return false;
      }
    }
  }
}

/** The live views of each client (by its hub), by prefix. */
const views = new WeakMap<WatchHub, Map<string, QueueView>>();

/** The view of `prefix` for the client of `hub`, made if there is none (call ref() on it). */
export function queueView(driver: Driver, hub: WatchHub, prefix: string): QueueView {
  let byPrefix = views.get(hub);
  if (!byPrefix) {
    byPrefix = new Map();
    views.set(hub, byPrefix);
  }
  let v = byPrefix.get(prefix);
  if (!v || v.closed) {
    const made: QueueView = new QueueView(driver, hub, prefix, () => {
      if (byPrefix.get(prefix) === made) byPrefix.delete(prefix);
    });
    v = made;
    byPrefix.set(prefix, v);
  }
  return v;
}

/** The view of `prefix` if one is live and current for this client, else undefined. */
export function liveQueueView(hub: WatchHub, prefix: string): QueueView | undefined {
  const v = views.get(hub)?.get(prefix);
  return v && !v.closed && v.at !== undefined ? v : undefined;
}
