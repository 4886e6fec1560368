import { randomUUID } from "node:crypto";
import type { Driver, Entry, PutResult, RangeResult, WatchEvent } from "../driver/types.js";
import { abortedError, ConcordError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";
import type { WatchHub } from "../internal/watch-hub.js";
import type { LeaseHandle } from "../session.js";
import { liveQueueView, queueView } from "./queue-view.js";

/** A place in a fair queue: a key attached to a lease, ordered by its createRevision. */
export interface Ticket {
  readonly key: string;
  readonly createRevision: number;
  modRevision: number;
  readonly lease: LeaseHandle;
  /** Who was ahead when the ticket was taken (read atomically with the write where the engine can). */
  readonly aheadAtJoin: Entry[];
  /** The revision {@link aheadAtJoin} was read at. */
  readonly aheadAt: number;
}

export function byCreate(a: Entry, b: Entry): number {
  return a.createRevision - b.createRevision;
}

/**
 * A first-come-first-served queue of keys under one prefix (locks, elections, semaphores): a
 * request is a key written with the requester's lease, and its place is its createRevision. A
 * waiter watches only the key just ahead of it, so a release wakes the next waiter and no other.
 */
export class FairQueue {
  readonly #driver: Driver;
  readonly #hub: WatchHub;
  readonly prefix: string;

  constructor(driver: Driver, hub: WatchHub, prefix: string) {
    this.#driver = driver;
    this.#hub = hub;
    this.prefix = prefix;
  }

  /** Everyone in the queue, first come first. */
  async entries(signal?: AbortSignal): Promise<Entry[]> {
    const r = await this.#driver.range(this.prefix, signal ? { signal } : {});
    return r.entries.sort(byCreate);
  }

  async join(lease: LeaseHandle, value: Uint8Array, signal?: AbortSignal): Promise<Ticket> {
    const key = `${this.prefix}${lease.id}:${randomUUID()}`;
    const opts = { ifVersion: 0, lease: lease.id, ...(signal ? { signal } : {}) };
    // Others of this client wait on this queue already: their view of it says who is ahead once it
    // has seen our write, so the write need not read the queue back (a long queue is not free to read).
    const view = liveQueueView(this.#hub, this.prefix);
    if (view) {
      view.ref();
      try {
        const r = await this.#driver.put(key, value, opts);
        if (!r.ok) throw new ConcordError("UNAVAILABLE", `queue key ${key} already exists`);
        const mine = r.entry.createRevision;
        let aheadAtJoin: Entry[];
        let aheadAt: number;
        if ((await view.reach(mine, VIEW_WAIT_MS)) && view.has(key)) {
          aheadAtJoin = view.aheadOf(mine);
          aheadAt = view.at!;
        } else {
          const range = await this.#driver.range(this.prefix, signal ? { signal } : {});
          aheadAtJoin = range.entries.filter((e) => e.createRevision < mine).sort(byCreate);
          aheadAt = range.revision;
        }
        return { key, createRevision: mine, modRevision: r.entry.modRevision, lease, aheadAtJoin, aheadAt };
      } finally {
        view.unref();
      }
    }
    let r: PutResult;
    let range: RangeResult | undefined;
    if (this.#driver.putAndRange) {
      const both = await this.#driver.putAndRange(key, value, opts, this.prefix);
      r = both.put;
      range = both.range;
    } else {
      r = await this.#driver.put(key, value, opts);
      if (r.ok) range = await this.#driver.range(this.prefix, signal ? { signal } : {});
    }
    if (!r.ok || !range) throw new ConcordError("UNAVAILABLE", `queue key ${key} already exists`);
    const mine = r.entry.createRevision;
    const aheadAtJoin = range.entries.filter((e) => e.createRevision < mine).sort(byCreate);
    return { key, createRevision: mine, modRevision: r.entry.modRevision, lease, aheadAtJoin, aheadAt: range.revision };
  }

  async leave(t: Ticket): Promise<void> {
    await this.#driver.delete(t.key).catch(() => undefined);
  }

  /**
   * Resolves once `blockers(ahead)` is empty, where `ahead` is everyone before `t` in the queue,
   * first come first. `blockers` names the keys whose deletion could let `t` go: for a lock, the one
   * just ahead, so a release wakes only the next waiter. Rejects with `LOCK_LOST` if the ticket's
   * key vanished (its lease expired) and with the signal's reason if aborted.
   *
   * `ahead` is read once (or taken from the join, when the client's watch had not passed the join's
   * revision yet, so that every later change reaches us) and then kept up to date from the watch:
   * no one can join ahead of a ticket, so the changes to the keys already ahead are all that
   * matter, and a hand-off costs the waiter no read of its own.
   */
  async waitUntil(t: Ticket, blockers: (ahead: Entry[]) => string[], signal: AbortSignal): Promise<void> {
    // Fast path: nothing blocked us at join time, and nothing can join ahead of us later.
    if (blockers(t.aheadAtJoin).length === 0) return;
    const wake = new Notifier();
    // Everyone ahead as of revision `at`, or undefined while it must be (re)read.
    let ahead: Entry[] | undefined;
    let at = 0;
    let gone = false;
    // Changes that arrive while `ahead` is being read, applied after it.
    const backlog: WatchEvent[] = [];
    let readGen = 0;
    // The keys that blocked us when we last looked. Only a change to one of them (or to our own key)
    // can end the wait, so a release far ahead in the queue updates `ahead` without waking us: a
    // hand-off wakes the next waiter only, however many wait in this process.
    let blocking = new Set<string>();
    const apply = (ev: WatchEvent): boolean => {
      if (ev.revision <= at) return false;
      if (ev.key === t.key) {
        gone ||= ev.type === "delete";
        return gone;
      }
      // A key created after ours queues behind us: the usual put (a join at the tail) costs no search.
      if (ev.type === "put" && ev.entry.createRevision > t.createRevision) return false;
      const i = ahead!.findIndex((e) => e.key === ev.key);
      if (i < 0) return false;
      if (ev.type === "delete") {
        if (i === 0) ahead!.shift(); // the usual case, the head leaving: V8 trims the front without copying
        else ahead!.splice(i, 1);
      }
      else ahead![i] = ev.entry;
      return blocking.has(ev.key);
    };
    // While we wait, this client keeps a view of the queue that later joins read instead of the engine.
    const view = queueView(this.#driver, this.#hub, this.prefix);
    view.ref();
    const from = this.#hub.position;
    const unsubscribe = await this.#hub.subscribe(this.prefix, (ev) => {
      if (ev === undefined) {
        // History was lost: read again.
        ahead = undefined;
        backlog.length = 0;
        readGen++;
      } else if (ahead === undefined) {
        backlog.push(ev);
        return;
      } else if (!apply(ev)) {
        return;
      }
      wake.notify();
    });
    if (from !== undefined && from <= t.aheadAt) {
      ahead = [...t.aheadAtJoin];
      at = t.aheadAt;
    } else if (liveQueueView(this.#hub, this.prefix) === view && view.at === this.#hub.position) {
      // The watch moved on since the join; the view has followed it (every change so far has reached
      // it and us alike, the ones since our subscription also our backlog, which apply() skips).
      ahead = view.aheadOf(t.createRevision);
      at = view.at!;
      gone = !view.has(t.key);
      if (gone) ahead = [];
      backlog.length = 0;
    }
    const onLost = (): void => wake.notify();
    t.lease.signal.addEventListener("abort", onLost);
    try {
      for (;;) {
        const seen = wake.seq;
        if (signal.aborted) throw abortedError(signal);
        t.lease.assertAlive();
        if (ahead === undefined) {
          const gen = readGen;
          const r = await this.#driver.range(this.prefix, { signal });
          if (gen !== readGen) continue;
          const all = r.entries.sort(byCreate);
          const mine = all.findIndex((e) => e.key === t.key);
          gone = mine < 0;
          ahead = gone ? [] : all.slice(0, mine);
          at = r.revision;
          for (const ev of backlog.splice(0)) apply(ev);
          continue;
        }
        if (gone) throw new ConcordError("LOCK_LOST", `queue key ${t.key} is gone: its lease expired while waiting`);
        const now = blockers(ahead);
        if (now.length === 0) return;
        blocking = new Set(now);
        await wake.wait(seen, signal).catch(() => {
          throw abortedError(signal);
        });
      }
    } finally {
      unsubscribe();
      view.unref();
      t.lease.signal.removeEventListener("abort", onLost);
    }
  }
}

/** How long a join waits for this client's view of the queue to see its write before reading the queue itself. */
const VIEW_WAIT_MS = 1_000;

/** A lock's rule: only the one just ahead blocks. */
export const headOnly = (ahead: Entry[]): string[] => (ahead.length === 0 ? [] : [ahead[ahead.length - 1]!.key]);
