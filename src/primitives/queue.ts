import { randomUUID } from "node:crypto";
import type { Driver, Entry, PutResult, RangeResult } from "../driver/types.js";
import { abortedError, ConcordError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";
import type { WatchHub } from "../internal/watch-hub.js";
import type { LeaseHandle } from "../session.js";
import { untilAborted } from "../internal/abort.js";
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
  /** The whole queue as read at {@link aheadAt}, when the join read it from the engine. */
  readonly seen?: Entry[];
}

export function byCreate(a: Entry, b: Entry): number {
  return a.createRevision - b.createRevision;
}

/** The entries ahead of `createRevision`, first come first. */
function aheadOf(entries: Entry[], createRevision: number): Entry[] {
  return entries.filter((e) => e.createRevision < createRevision).sort(byCreate);
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
    view?.ref();
    try {
      let r: PutResult;
      let range: RangeResult | undefined;
      if (!view && this.#driver.putAndRange) ({ put: r, range } = await this.#driver.putAndRange(key, value, opts, this.prefix));
      else r = await this.#driver.put(key, value, opts);
      if (!r.ok) throw new ConcordError("UNAVAILABLE", `queue key ${key} already exists`);
      const { createRevision: mine, modRevision } = r.entry;
      // Tickets are built as literals: an object spread here made every lock cycle a third slower (memory engine).
      if (view && (await view.reach(mine, VIEW_WAIT_MS)) && view.has(key)) {
        return { key, createRevision: mine, modRevision, lease, aheadAtJoin: view.aheadOf(mine), aheadAt: view.at! };
      }
      range ??= await this.#driver.range(this.prefix, signal ? { signal } : {});
      return { key, createRevision: mine, modRevision, lease, aheadAtJoin: aheadOf(range.entries, mine), aheadAt: range.revision, seen: range.entries };
    } finally {
      view?.unref();
    }
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
   * Who is ahead comes from this client's view of the queue (see {@link QueueView}), shared by its
   * waiters and kept current from its one watch stream: taken from the join's own read when the
   * stream has not passed it yet, else read once. A waiter sleeps until one of the keys blocking it
   * (or its own) changes, so a hand-off costs it no read and wakes no other waiter.
   */
  async waitUntil(t: Ticket, blockers: (ahead: Entry[]) => string[], signal: AbortSignal): Promise<void> {
    // Fast path: nothing blocked us at join time, and nothing can join ahead of us later.
    if (blockers(t.aheadAtJoin).length === 0) return;
    const view = queueView(this.#driver, this.#hub, this.prefix);
    view.ref();
    if (t.seen) view.seed(t.seen, t.aheadAt);
    const wake = new Notifier();
    const onLost = (): void => wake.notify();
    t.lease.signal.addEventListener("abort", onLost);
    let off: (() => void) | undefined;
    try {
      for (;;) {
        const seen = wake.seq;
        if (signal.aborted) throw abortedError(signal);
        t.lease.assertAlive();
        if (view.at === undefined || view.at < t.aheadAt) {
          // The view must have seen our join: wait for the stream to bring it, else read again.
          if (!(await view.reach(t.aheadAt, VIEW_WAIT_MS, signal))) {
            if (signal.aborted) throw abortedError(signal);
            await untilAborted(view.refresh(), signal).catch((e: unknown) => {
              throw signal.aborted ? abortedError(signal) : e;
            });
          }
          continue;
        }
        if (!view.has(t.key)) throw new ConcordError("LOCK_LOST", `queue key ${t.key} is gone: its lease expired while waiting`);
        const now = blockers(view.aheadOf(t.createRevision));
        if (now.length === 0) return;
        off?.();
        off = view.onChange([...now, t.key], () => wake.notify());
        await wake.wait(seen, signal).catch(() => {
          throw abortedError(signal);
        });
      }
    } finally {
      off?.();
      view.unref();
      t.lease.signal.removeEventListener("abort", onLost);
    }
  }
}

/** How long a join waits for this client's view of the queue to see its write before reading the queue itself. */
const VIEW_WAIT_MS = 1_000;

/** A lock's rule: only the one just ahead blocks. */
export const headOnly = (ahead: Entry[]): string[] => (ahead.length === 0 ? [] : [ahead[ahead.length - 1]!.key]);
