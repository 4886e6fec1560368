import { randomUUID } from "node:crypto";
import type { Driver, Entry, PutResult } from "../driver/types.js";
import { abortedError, ConcordError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";
import type { WatchHub } from "../internal/watch-hub.js";
import type { LeaseHandle } from "../session.js";

/** A place in a fair queue: a key attached to a lease, ordered by its createRevision. */
export interface Ticket {
  readonly key: string;
  readonly createRevision: number;
  modRevision: number;
  readonly lease: LeaseHandle;
  /** Who was ahead when the ticket was taken (read atomically with the write where the engine can). */
  readonly aheadAtJoin: Entry[];
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
    let r: PutResult;
    let all: Entry[];
    if (this.#driver.putAndRange) {
      const both = await this.#driver.putAndRange(key, value, opts, this.prefix);
      r = both.put;
      all = both.range.entries;
    } else {
      r = await this.#driver.put(key, value, opts);
      all = r.ok ? (await this.#driver.range(this.prefix, signal ? { signal } : {})).entries : [];
    }
    if (!r.ok) throw new ConcordError("UNAVAILABLE", `queue key ${key} already exists`);
    const mine = r.entry.createRevision;
    const aheadAtJoin = all.filter((e) => e.createRevision < mine).sort(byCreate);
    return { key, createRevision: mine, modRevision: r.entry.modRevision, lease, aheadAtJoin };
  }

  async leave(t: Ticket): Promise<void> {
    await this.#driver.delete(t.key).catch(() => undefined);
  }

  /**
   * Resolves once `blockers(ahead)` is empty, where `ahead` is everyone before `t` in the queue,
   * first come first. `blockers` names the keys whose deletion could let `t` go: for a lock, the one
   * just ahead, so a release wakes only the next waiter. Rejects with `LOCK_LOST` if the ticket's
   * key vanished (its lease expired) and with the signal's reason if aborted.
   */
  async waitUntil(t: Ticket, blockers: (ahead: Entry[]) => string[], signal: AbortSignal): Promise<void> {
    // Fast path: nothing blocked us at join time, and nothing can join ahead of us later.
    if (blockers(t.aheadAtJoin).length === 0) return;
    const wake = new Notifier();
    let watching = new Set<string>();
    // Deletes seen since the last read: one may arrive before `watching` is set for it.
    const deleted = new Set<string>();
    const unsubscribe = await this.#hub.subscribe(this.prefix, (ev) => {
      if (ev?.type === "delete") deleted.add(ev.key);
      if (ev === undefined || (ev.type === "delete" && (watching.has(ev.key) || ev.key === t.key))) wake.notify();
    });
    const onLost = (): void => wake.notify();
    t.lease.signal.addEventListener("abort", onLost);
    try {
      for (;;) {
        if (signal.aborted) throw abortedError(signal);
        t.lease.assertAlive();
        const seen = wake.seq;
        deleted.clear();
        const all = await this.entries(signal);
        const mine = all.findIndex((e) => e.key === t.key);
        if (mine < 0) throw new ConcordError("LOCK_LOST", `queue key ${t.key} is gone: its lease expired while waiting`);
        const keys = blockers(all.slice(0, mine));
        if (keys.length === 0) return;
        watching = new Set(keys);
        if (keys.some((k) => deleted.has(k))) continue;
        await wake.wait(seen, signal).catch(() => {
          throw abortedError(signal);
        });
      }
    } finally {
      unsubscribe();
      t.lease.signal.removeEventListener("abort", onLost);
    }
  }
}

/** A lock's rule: only the one just ahead blocks. */
export const headOnly = (ahead: Entry[]): string[] => (ahead.length === 0 ? [] : [ahead[ahead.length - 1]!.key]);
