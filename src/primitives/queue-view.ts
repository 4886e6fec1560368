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
  #subscribing: Promise<void> | undefined;
  /** Whether the listener is registered with the hub (from before the subscription has resolved). */
  #listening = false;
  readonly #listener = (ev: WatchEvent | undefined): void => this.#onEvent(ev);
  #closed = false;
  readonly #changed = new Notifier();
  /** Waiters, by the keys whose change may let them go. */
  readonly #interest = new Map<string, Set<() => void>>();
  /** Waiters to tell when the view is (re)read: every key may have changed. */
  readonly #onReset = new Set<() => void>();
  #lastRead: Promise<void> | undefined;

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
    if (this.#refs++ === 0) this.#subscribe().then(() => (this.#at === undefined && !this.#reading ? this.#read() : undefined)).catch(() => undefined);
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

  /**
   * Listens to the client's watch stream. The listener is registered before the first await (so a
   * seed() right after ref() is safe); it is gone again if the stream cannot start (engine away).
   */
  #subscribe(): Promise<void> {
    if (this.#unsubscribe) return Promise.resolve();
    this.#subscribing ??= (async () => {
      const subscribed = this.#hub.subscribe(this.#prefix, this.#listener);
      this.#listening = true;
      try {
        const off = await subscribed;
        if (this.#closed) off();
        else this.#unsubscribe = off;
      } catch (e) {
        this.#listening = false;
        throw e;
      } finally {
        this.#subscribing = undefined;
      }
    })();
    return this.#subscribing;
  }

  /**
   * Takes `entries`, the whole queue as read at revision `at` (by a join), instead of reading it,
   * if the view has nothing yet and every change after `at` is still to reach it.
   */
  seed(entries: Entry[], at: number): void {
    if (this.#closed || !this.#listening || this.#at !== undefined || this.#reading) return;
    const position = this.#hub.position;
    if (position === undefined || position > at) return;
    this.#readGen++;
    this.#install(entries, at);
  }

  /** Reads the queue again (one read shared by every waiter asking); rejects as the engine does. */
  async refresh(): Promise<void> {
    await this.#subscribe();
    if (this.#reading && this.#lastRead) return this.#lastRead;
    this.#at = undefined;
    this.#backlog.length = 0;
    return this.#read();
  }

  #read(): Promise<void> {
    const gen = ++this.#readGen;
    this.#reading = true;
    const read = (async () => {
      let r: RangeResult;
      try {
        r = await this.#driver.range(this.#prefix);
      } finally {
        if (gen === this.#readGen) this.#reading = false;
      }
      if (gen !== this.#readGen || this.#closed) return;
      this.#install(r.entries, r.revision);
    })();
    this.#lastRead = read;
    return read;
  }

  #install(entries: Entry[], at: number): void {
    this.#byKey.clear();
    for (const e of entries) this.#byKey.set(e.key, e);
    this.#order = [...entries].sort((a, b) => a.createRevision - b.createRevision);
    this.#at = at;
    for (const ev of this.#backlog.splice(0)) this.#apply(ev);
    this.#changed.notify();
    for (const fn of [...this.#onReset]) fn();
  }

  /**
   * Calls `fn` on the next change to any of `keys`, and whenever the view is read again; until the
   * returned function is called. A hand-off thus wakes the waiter whose blocker left, and no other.
   */
  onChange(keys: Iterable<string>, fn: () => void): () => void {
    const ks = [...keys];
    for (const k of ks) {
      let set = this.#interest.get(k);
      if (!set) {
        set = new Set();
        this.#interest.set(k, set);
      }
      set.add(fn);
    }
    this.#onReset.add(fn);
    return () => {
      for (const k of ks) {
        const set = this.#interest.get(k);
        set?.delete(fn);
        if (set?.size === 0) this.#interest.delete(k);
      }
      this.#onReset.delete(fn);
    };
  }

  #onEvent(ev: WatchEvent | undefined): void {
    if (ev === undefined) {
      // History was lost: read again.
      this.refresh().catch(() => undefined);
      for (const fn of [...this.#onReset]) fn();
      return;
    }
    if (this.#at === undefined) {
      this.#backlog.push(ev);
      return;
    }
    if (!this.#apply(ev)) return;
    this.#changed.notify();
    const fns = this.#interest.get(ev.key);
    if (fns) for (const fn of [...fns]) fn();
  }

  /** Applies `ev` if it is newer than the view; true if it did. */
  #apply(ev: WatchEvent): boolean {
    if (ev.revision <= this.#at!) return false;
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
    return true;
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
  async reach(revision: number, maxWaitMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = signal ? AbortSignal.any([signal, AbortSignal.timeout(maxWaitMs)]) : AbortSignal.timeout(maxWaitMs);
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
