import { ConcordError } from "../../errors.js";
import type { Clock } from "../../internal/clock.js";
import { Notifier } from "../../internal/deferred.js";
import type { DeleteOptions, DeleteResult, Entry, Guard, PutOptions, PutResult, WatchEvent } from "../../driver/types.js";

interface LeaseState {
  ttlMs: number;
  expiresAt: number;
  keys: Set<string>;
  timer: unknown;
}

/** Lower bound of `key` in the sorted array `keys`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The in-process keyspace shared by every memory client of one name. All operations are synchronous,
 * so each is atomic; lease expiry is judged by the one injected clock.
 */
export class MemoryStore {
  readonly clock: Clock;
  readonly changed = new Notifier();
  #rev = 0;
  #kv = new Map<string, Entry>();
  #sorted: string[] = [];
  #history: WatchEvent[] = [];
  /** Revision of `#history[0]`; history before it is compacted. */
  #historyStart = 1;
  #historyLimit: number;
  #leases = new Map<string, LeaseState>();
  #nextLease = 1;
  refs = 0;

  constructor(clock: Clock, historyLimit: number) {
    this.clock = clock;
    this.#historyLimit = historyLimit;
  }

  get revision(): number {
    return this.#rev;
  }

  get(key: string): Entry | undefined {
    return this.#kv.get(key);
  }

  range(prefix: string, startAfter: string | undefined, limit: number): { entries: Entry[]; more: boolean } {
    let i = lowerBound(this.#sorted, startAfter !== undefined && startAfter >= prefix ? startAfter : prefix);
    if (startAfter !== undefined && this.#sorted[i] === startAfter) i++;
    const entries: Entry[] = [];
    for (; i < this.#sorted.length; i++) {
      const k = this.#sorted[i]!;
      if (!k.startsWith(prefix)) break;
      if (entries.length === limit) return { entries, more: true };
      entries.push(this.#kv.get(k)!);
    }
    return { entries, more: false };
  }

  #guardFails(guard: Guard | undefined): boolean {
    return guard !== undefined && this.#kv.get(guard.key)?.modRevision !== guard.version;
  }

  #versionFails(current: Entry | undefined, ifVersion: number | undefined): boolean {
    if (ifVersion === undefined) return false;
    return ifVersion === 0 ? current !== undefined : current?.modRevision !== ifVersion;
  }

  put(key: string, value: Uint8Array, opts: PutOptions): PutResult {
    const current = this.#kv.get(key);
    if (this.#guardFails(opts.guard)) return { ok: false, current, guardFailed: true };
    if (this.#versionFails(current, opts.ifVersion)) return { ok: false, current };
    if (opts.lease !== undefined && !this.#leases.has(opts.lease)) {
      throw new ConcordError("NOT_HELD", `lease ${opts.lease} has expired or was revoked`, { engine: "memory" });
    }
    const rev = ++this.#rev;
    const entry: Entry = {
      key,
      value: value.slice(),
      createRevision: current?.createRevision ?? rev,
      modRevision: rev,
      lease: opts.lease,
    };
    if (current?.lease !== undefined) this.#leases.get(current.lease)?.keys.delete(key);
    if (opts.lease !== undefined) this.#leases.get(opts.lease)!.keys.add(key);
    if (!current) this.#sorted.splice(lowerBound(this.#sorted, key), 0, key);
    this.#kv.set(key, entry);
    this.#record({ type: "put", key, revision: rev, entry });
    return { ok: true, entry };
  }

  delete(key: string, opts: DeleteOptions): DeleteResult {
    const current = this.#kv.get(key);
    if (this.#guardFails(opts.guard)) return { ok: false, current, guardFailed: true };
    if (!current || this.#versionFails(current, opts.ifVersion)) return { ok: false, current };
    return { ok: true, revision: this.#remove(current), previous: current };
  }

  #remove(entry: Entry): number {
    const rev = ++this.#rev;
    this.#kv.delete(entry.key);
    this.#sorted.splice(lowerBound(this.#sorted, entry.key), 1);
    if (entry.lease !== undefined) this.#leases.get(entry.lease)?.keys.delete(entry.key);
    this.#record({ type: "delete", key: entry.key, revision: rev });
    return rev;
  }

  deletePrefix(prefix: string): { deleted: number; revision: number } {
    const { entries } = this.range(prefix, undefined, Number.MAX_SAFE_INTEGER);
    for (const e of entries) this.#remove(e);
    return { deleted: entries.length, revision: this.#rev };
  }

  #record(ev: WatchEvent): void {
    this.#history.push(ev);
    if (this.#history.length > this.#historyLimit) this.compact(this.#rev - Math.floor(this.#historyLimit / 2));
    this.changed.notify();
  }

  compact(revision: number): void {
    const drop = Math.min(this.#history.length, Math.max(0, revision - this.#historyStart));
    if (drop > 0) {
      this.#history.splice(0, drop);
      this.#historyStart += drop;
    }
  }

  changesSince(prefix: string, fromRevision: number, limit: number): WatchEvent[] {
    if (fromRevision < this.#historyStart) {
      throw new ConcordError(
        "COMPACTED",
        `revision ${fromRevision} has been compacted; the oldest kept is ${this.#historyStart}; re-read and watch from there`,
        { engine: "memory" },
      );
    }
    const out: WatchEvent[] = [];
    for (let i = fromRevision - this.#historyStart; i < this.#history.length && out.length < limit; i++) {
      const ev = this.#history[i]!;
      if (ev.key.startsWith(prefix)) out.push(ev);
    }
    return out;
  }

  grantLease(ttlMs: number): string {
    const id = `m${this.#nextLease++}`;
    const state: LeaseState = { ttlMs, expiresAt: 0, keys: new Set(), timer: undefined };
    this.#leases.set(id, state);
    this.#arm(id, state);
    return id;
  }

  #arm(id: string, state: LeaseState): void {
    if (state.timer !== undefined) this.clock.clearTimeout(state.timer);
    state.expiresAt = this.clock.now() + state.ttlMs;
    state.timer = this.clock.setTimeout(() => this.revokeLease(id), state.ttlMs);
  }

  keepAlive(id: string): boolean {
    const state = this.#leases.get(id);
    if (!state) return false;
    this.#arm(id, state);
    return true;
  }

  revokeLease(id: string): void {
    const state = this.#leases.get(id);
    if (!state) return;
    this.clock.clearTimeout(state.timer);
    this.#leases.delete(id);
    for (const key of [...state.keys]) {
      const e = this.#kv.get(key);
      if (e) this.#remove(e);
    }
  }

  /** Stops every lease timer; the store is dropped after its last client closes. */
  dispose(): void {
    for (const s of this.#leases.values()) this.clock.clearTimeout(s.timer);
  }
}
