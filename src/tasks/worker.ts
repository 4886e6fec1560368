import { randomBytes } from "node:crypto";
import type { Context } from "../context.js";
import type { Entry, WatchEvent } from "../driver/types.js";
import { checkTtl } from "../driver/validate.js";
import { invalid, isConcordError } from "../errors.js";
import { sleep } from "../internal/clock.js";
import { Notifier } from "../internal/deferred.js";
import type { LeaseHandle } from "../session.js";
import type { TaskKeys } from "./keys.js";
import { decodeRecord, encodeRecord, isFinished, peekState } from "./record.js";
import type { Handler, TaskRecord, WorkOptions } from "./types.js";

const EMPTY = new Uint8Array();
/** Index entries read per page while looking for due tasks, and pages at most per look. */
const SCAN = 128;
const PAGES = 8;
/** How often a worker looks for tasks whose claim vanished while no worker was watching. */
const RECOVER_EVERY_MS = 60_000;
/** An index entry whose record is still missing this long after it fell due was left by a crashed submit. */
const STALE_AFTER_MS = 60_000;
/** How long a claim waits for the watch to carry a new task's record before it reads the record itself. */
const FRESH_MS = 2_000;
/** Runnable records remembered from the watch, at most. */
const CACHE_MAX = 20_000;

type Stored = TaskRecord & { version: number };

/** A claimed task: its index entry, put again under the worker's lease. */
interface Claim {
  key: string;
  version: number;
  lease: LeaseHandle;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function backoffMs(r: TaskRecord): number {
  const base = r.backoff.delayMs ?? 1000;
  const max = r.backoff.maxMs ?? 5 * 60_000;
  const exp = r.backoff.type === "fixed" ? base : Math.min(max, base * 2 ** Math.max(0, r.attempt - 1));
  return Math.round(exp * (0.8 + Math.random() * 0.4)); // ±20 % jitter spreads retries of a burst
}

/**
 * Claims due tasks under a lease (so a task whose worker dies runs again elsewhere once the claim
 * expires), runs their handlers, and records the outcome fenced by the claim: a worker that lost
 * its claim cannot overwrite what the next one did.
 *
 * A claim is the task's index entry put again, compare-and-set, under the worker's lease: one
 * write, and the entry itself says the task is taken. Finishing deletes it; closing puts it back
 * without the lease. Should the lease expire, the engine deletes the entry, and whoever sees that
 * (a watch event, or the periodic look over all records) puts it back for the task, still marked
 * active with its attempt spent, to run again.
 */
export class Worker implements AsyncDisposable {
  readonly #ctx: Context;
  readonly #keys: TaskKeys;
  readonly #handlers: Record<string, Handler>;
  readonly #concurrency: number;
  readonly #claimTtlMs: number;
  readonly #closeTimeoutMs: number;
  readonly #stop = new AbortController();
  readonly #wake = new Notifier();
  readonly #running = new Map<string, { ac: AbortController; done: Promise<void>; claim: Claim }>();
  readonly #loop: Promise<void>;
  /** Tasks of kinds this worker has no handler for. */
  readonly #foreign = new Set<string>();
  /**
   * Runnable records (waiting or delayed) as the watch last carried them, by id, so a claim need not
   * read the record again. Only ever a hint: the claim's write compares versions, and anything but
   * the plain case (the record the index entry names, still runnable) is read from the engine.
   */
  readonly #seen = new Map<string, Stored>();
  /**
   * The index entry each record the watch carried names (null once finished), by id. An entry is
   * deleted only after its record moved on, an event this worker sees first; so the deletion of an
   * entry its record still names, or of one whose record it never saw, may be a claim lost with its
   * worker, and is looked into.
   */
  readonly #named = new Map<string, string | null>();
  /** The value of this worker's claims, so it can tell its own from another worker's on the same lease. */
  readonly #token = new TextEncoder().encode(randomBytes(9).toString("base64url"));
  /** Claims under way (between the claim's write and the handler's start). */
  readonly #claiming = new Set<string>();
  #closing: Promise<void> | undefined;

  readonly #prune: () => Promise<number>;
  #lastPrune = 0;

  constructor(ctx: Context, keys: TaskKeys, handlers: Record<string, Handler>, opts: WorkOptions, prune: () => Promise<number>) {
    this.#prune = prune;
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 10_000) throw invalid("concurrency", "expected an integer from 1 to 10,000");
    this.#claimTtlMs = opts.claimTtlMs ?? 30_000;
    checkTtl("claimTtlMs", this.#claimTtlMs);
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 10_000;
    this.#ctx = ctx;
    this.#keys = keys;
    this.#handlers = handlers;
    this.#concurrency = concurrency;
    opts.signal?.addEventListener("abort", () => void this.close(), { once: true });
    this.#loop = this.#run();
  }

  get running(): number {
    return this.#running.size;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const unsubscribe = await this.#ctx.hub.subscribe(this.#keys.root, (ev) => this.#observe(ev));
    try {
      while (!signal.aborted && !this.#ctx.closed.aborted) {
        const seen = this.#wake.seq;
        let nextDue = Infinity;
        if (this.#ctx.clock.now() - this.#lastPrune > RECOVER_EVERY_MS) {
          this.#lastPrune = this.#ctx.clock.now();
          // finished tasks past retainMs, and claims that vanished unseen; best effort
          void this.#prune().catch(() => undefined);
          void this.#recoverAll().catch(() => undefined);
        }
        try {
          nextDue = await this.#claimSome();
        } catch (e) {
          if (isConcordError(e, "CLOSED")) return;
          nextDue = this.#ctx.clock.now() + 500; // engine trouble: try again soon
        }
        const wait = Math.min(Math.max(0, nextDue - this.#ctx.clock.now()), 5_000);
        const timer = this.#ctx.clock.setTimeout(() => this.#wake.notify(), wait);
        await this.#wake.wait(seen, signal).catch(() => undefined);
        this.#ctx.clock.clearTimeout(timer);
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * Wakes the claim loop for new work (a record put runnable: submit writes it after its index
   * entry, so the entry is there to find) or a claim given back, keeps the runnable records the
   * watch carries, and notices claims that vanished under a task still active.
   */
  #observe(ev: WatchEvent | undefined): void {
    if (ev === undefined) {
      // history lost: nothing remembered can be trusted, and a vanished claim may have gone unseen
      this.#seen.clear();
      this.#named.clear();
      void this.#recoverAll().catch(() => undefined);
      this.#wake.notify();
      return;
    }
    if (ev.key.startsWith(this.#keys.records)) {
      const id = ev.key.slice(this.#keys.records.length);
      this.#seen.delete(id);
      if (ev.type === "delete") {
        remember(this.#named, id, null);
        return;
      }
      // Only a runnable record is kept, and only a new task's entry needs reading: an active or
      // finished one is told by its first bytes (an active task's entry is the one named already).
      const state = peekState(ev.entry.value);
      if (isFinished(state)) return remember(this.#named, id, null);
      if (state === "active" && this.#named.get(id)) return;
      let r: Stored;
      try {
        r = decodeRecord(ev.entry);
      } catch {
        return;
      }
      remember(this.#named, id, isFinished(r.state) ? null : this.#keys.indexEntry(r.priority, r.runAt, id));
      if (r.state !== "waiting" && r.state !== "delayed") return;
      remember(this.#seen, id, r);
      this.#wake.notify();
    } else if (ev.key.startsWith(this.#keys.index)) {
      if (ev.type === "put") {
        if (ev.entry.lease === undefined && ev.entry.createRevision !== ev.entry.modRevision) this.#wake.notify(); // given back
        return;
      }
      const id = this.#keys.parseIndex(ev.key).id;
      const named = this.#named.get(id);
      if (named === undefined || named === ev.key) void this.#recover(id).catch(() => undefined);
    }
  }

  /**
   * Puts back the index entry of a task whose claim is gone, so it runs again: active (its attempt
   * spent), or still waiting if its worker died between the claim and marking it active.
   */
  async #recover(id: string): Promise<void> {
    const e = await this.#ctx.driver.get(this.#keys.record(id));
    const r = e && decodeRecord(e);
    if (r?.state !== "active" && r?.state !== "waiting" && r?.state !== "delayed") return;
    if ((await this.#ctx.driver.put(this.#keys.indexEntry(r.priority, r.runAt, id), EMPTY, { ifVersion: 0 })).ok) this.#wake.notify();
  }

  /** Looks over every record for unfinished tasks whose claim vanished while no worker was watching. */
  async #recoverAll(): Promise<void> {
    const indexed = new Set<string>();
    for await (const e of this.#scan(this.#keys.index)) indexed.add(e.key);
    const lost: Stored[] = [];
    for await (const e of this.#scan(this.#keys.records)) {
      const r = decodeRecord(e);
      if (!isFinished(r.state) && !indexed.has(this.#keys.indexEntry(r.priority, r.runAt, r.id))) lost.push(r);
    }
    // Read again: an index entry is written before its record and deleted only after the record
    // moved on, so an unfinished record with no entry has lost its claim for good (a record
    // written after the index was read has its entry too, and the put below then changes nothing).
    for (const r of lost) await this.#recover(r.id);
  }

  async *#scan(prefix: string): AsyncGenerator<Entry> {
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#ctx.driver.range(prefix, { limit: 500, ...(startAfter ? { startAfter } : {}) });
      yield* page.entries;
      if (!page.more) return;
      startAfter = page.entries[page.entries.length - 1]!.key;
    }
  }

  /** Claims due tasks while there are free slots; returns when the next delayed one falls due. */
  async #claimSome(): Promise<number> {
    let nextDue = Infinity;
    const free = this.#concurrency - this.#running.size;
    if (free <= 0) return nextDue;
    const { driver } = this.#ctx;
    const now = this.#ctx.clock.now();
    const due: Array<{ id: string; key: string; version: number }> = [];
    let startAfter: string | undefined;
    for (let page = 0; ; page++) {
      const index = await driver.range(this.#keys.index, { limit: SCAN, ...(startAfter ? { startAfter } : {}) });
      for (const e of index.entries) {
        const { runAt, id } = this.#keys.parseIndex(e.key);
        if (e.lease !== undefined) {
          // Claimed. Ours, yet nothing runs it: a claim whose write or next step failed (engine away). Give it back.
          if (!this.#running.has(id) && !this.#claiming.has(id) && sameBytes(e.value, this.#token)) {
            void driver.put(e.key, EMPTY, { ifVersion: e.modRevision }).catch(() => undefined);
          }
          continue;
        }
        if (this.#running.has(id) || this.#foreign.has(id)) continue;
        if (runAt > now) nextDue = Math.min(nextDue, runAt);
        else if (this.#unheard(id, e, runAt, now)) {
          // Its record's event will wake us (and then it takes one call to claim); if none comes
          // (a record that is not runnable, a submit that failed half-way), look again when it is no longer fresh.
          nextDue = Math.min(nextDue, runAt + FRESH_MS);
          continue;
        }
        else due.push({ id, key: e.key, version: e.modRevision });
      }
      if (!index.more || due.length >= free) break;
      if (page + 1 >= PAGES) {
        nextDue = Math.min(nextDue, now + 200); // a long run of claimed or foreign tasks: look further soon
        break;
      }
      startAfter = index.entries[index.entries.length - 1]!.key;
    }
    // Claim as many as there are free slots, all at once.
    await Promise.all(
      due.slice(0, free).map(async (d) => {
        this.#claiming.add(d.id);
        try {
          await this.#tryClaim(d.id, d.key, d.version);
        } finally {
          this.#claiming.delete(d.id);
        }
      }),
    );
    if (due.length > free) nextDue = Math.min(nextDue, now); // more are due: look again when a slot frees
    return nextDue;
  }

  /**
   * True for a fresh index entry whose record the watch has not carried yet: the record is written
   * after the entry (in the same batch, or just after), so its event is on the way, unless its
   * submit failed half-way; a claim now would have to read the record. After FRESH_MS it is
   * claimed the long way all the same.
   */
  #unheard(id: string, e: Entry, runAt: number, now: number): boolean {
    const heard = this.#ctx.hub.position;
    return !this.#seen.has(id) && heard !== undefined && heard <= e.modRevision && now - runAt < FRESH_MS;
  }

  async #tryClaim(id: string, indexKey: string, indexVersion: number): Promise<void> {
    const { driver } = this.#ctx;
    const lease = await this.#ctx.leaseFor(this.#claimTtlMs);
    // One atomic step where the driver can: the claim and the record marked active (one more attempt
    // spent) together, from the record as the watch carried it; anything unusual takes the long way.
    const h0 = this.#seen.get(id);
    if (
      this.#ctx.batch &&
      h0 &&
      this.#keys.indexEntry(h0.priority, h0.runAt, id) === indexKey &&
      this.#handlers[h0.kind] &&
      h0.attempt + 1 <= h0.attempts
    ) {
      const { version, ...record } = h0;
      const active: TaskRecord = { ...record, attempt: record.attempt + 1, state: "active" };
      const b = await this.#ctx.batch([
        { type: "put", key: indexKey, value: this.#token, ifVersion: indexVersion, lease: lease.id },
        { type: "put", key: this.#keys.record(id), value: encodeRecord(active), ifVersion: version },
      ]);
      if (b.ok) {
        const e = b.results[0] as { ok: true; entry: Entry };
        this.#start(active, { key: indexKey, version: e.entry.modRevision, lease }, this.#handlers[h0.kind]!);
        return;
      }
      if (b.failed === 0) return; // the index entry moved on: someone else has it
    }
    const c = await driver.put(indexKey, this.#token, { ifVersion: indexVersion, lease: lease.id });
    if (!c.ok) return;
    const claim: Claim = { key: indexKey, version: c.entry.modRevision, lease };
    // The record as the watch carried it, if it is the one this index entry stands for; else read it.
    const hint = this.#seen.get(id);
    if (hint && this.#keys.indexEntry(hint.priority, hint.runAt, id) === indexKey) {
      const conflict = await this.#activate(hint, claim);
      if (conflict === false) return;
      // The hint was behind: judge again by the record as it is now.
      await this.#activate(conflict, claim, true);
      return;
    }
    const e = await driver.get(this.#keys.record(id));
    await this.#activate(e && decodeRecord(e), claim, true);
  }

  /** Puts a claimed index entry back without the lease: the task is free for anyone again. */
  async #giveBack(claim: Claim): Promise<void> {
    await this.#ctx.driver.put(claim.key, EMPTY, { ifVersion: claim.version });
  }

  /**
   * Under a fresh claim, marks the record active (one more attempt spent) and starts its handler,
   * or cleans up after a stale index entry. Returns false when done with the claim, or the record
   * as it is now when `stored` was out of date and `last` is not set (the caller looks again).
   */
  async #activate(stored: Stored | undefined, claim: Claim, last = false): Promise<false | Stored | undefined> {
    const { driver } = this.#ctx;
    const indexKey = claim.key;
    const { id, runAt } = this.#keys.parseIndex(indexKey);
    if (!stored && runAt + STALE_AFTER_MS > this.#ctx.clock.now()) {
      // submit writes the index entry first: its record may be a moment away. Look again later.
      await this.#giveBack(claim);
      return false;
    }
    if (!stored || isFinished(stored.state) || this.#keys.indexEntry(stored.priority, stored.runAt, id) !== indexKey) {
      await driver.delete(indexKey, { ifVersion: claim.version }); // stale entry: the record moved on or never landed
      return false;
    }
    // The record as stored, and apart from it the version to compare-and-set against.
    const { version, ...record } = stored;
    const handler = this.#handlers[record.kind];
    if (!handler) {
      this.#foreign.add(id);
      await this.#giveBack(claim); // another worker may know this kind
      return false;
    }
    record.attempt += 1;
    if (record.attempt > record.attempts) {
      if (!last) {
        // Written without a version check below: judge by the record as it is, not by a hint.
        const e = await driver.get(this.#keys.record(id));
        return e && decodeRecord(e);
      }
      // it was claimed as often as allowed and every claimant died: dead-letter it
      await this.#finish(record, claim, { state: "failed", error: "its worker was lost on the last attempt" });
      return false;
    }
    const active: TaskRecord = { ...record, state: "active" };
    const w = await driver.put(this.#keys.record(id), encodeRecord(active), { ifVersion: version, guard: { key: claim.key, version: claim.version } });
    if (!w.ok) {
      if (!last && !w.guardFailed) return w.current && decodeRecord(w.current);
      await this.#giveBack(claim);
      return false;
    }
    this.#start(active, claim, handler);
    return false;
  }

  #start(active: TaskRecord, claim: Claim, handler: Handler): void {
    const id = active.id;
    this.#seen.delete(id);
    const ac = new AbortController();
    const { lease } = claim;
    const lost = (): void => ac.abort(lease.signal.reason);
    lease.signal.addEventListener("abort", lost, { once: true });
    const done = this.#execute(active, claim, handler, ac.signal).finally(() => {
      lease.signal.removeEventListener("abort", lost);
      this.#running.delete(id);
      this.#wake.notify();
    });
    this.#running.set(id, { ac, done, claim });
  }

  async #execute(rec: TaskRecord, claim: Claim, handler: Handler, signal: AbortSignal): Promise<void> {
    const progress = async (value: unknown): Promise<void> => {
      await this.#ctx.driver.put(this.#keys.record(rec.id), encodeRecord({ ...rec, progress: value }), { guard: { key: claim.key, version: claim.version } });
    };
    let outcome: Partial<TaskRecord>;
    try {
      const result = await handler(rec.payload, { id: rec.id, kind: rec.kind, attempt: rec.attempt, signal, progress });
      outcome = { state: "done", result: result ?? null };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // Stopped by close(): give the task back as it was, without spending an attempt.
      if (this.#stop.signal.aborted && signal.aborted) outcome = { state: "waiting", attempt: rec.attempt - 1 };
      else outcome = rec.attempt < rec.attempts ? { state: "delayed", error, runAt: this.#ctx.clock.now() + backoffMs(rec) } : { state: "failed", error };
    }
    // An engine away for a moment must not strand the task behind a claim this worker still holds:
    // try again until the outcome is written or the claim is gone (then the next worker owns it).
    for (let wait = 50; ; wait = Math.min(2 * wait, 1000)) {
      try {
        await this.#finish(rec, claim, outcome);
        return;
      } catch (e) {
        if (isConcordError(e, "CLOSED") || !claim.lease.alive()) return;
        await sleep(this.#ctx.clock, wait, claim.lease.signal).catch(() => undefined);
      }
    }
  }

  /** Records the outcome (fenced by the claim), then frees the claim: deleted when finished, moved for a retry, put back when given back. */
  async #finish(rec: TaskRecord, claim: Claim, outcome: Partial<TaskRecord>): Promise<void> {
    const { driver } = this.#ctx;
    const next: TaskRecord = { ...rec, ...outcome };
    const finished = isFinished(next.state);
    if (finished) next.finishedAt = this.#ctx.clock.now();
    if (finished && this.#ctx.batch) {
      // The outcome fenced by the claim and the claim's deletion, together (nothing if the claim is lost).
      await this.#ctx.batch([
        { type: "put", key: this.#keys.record(rec.id), value: encodeRecord(next), guard: { key: claim.key, version: claim.version } },
        { type: "delete", key: claim.key, ifVersion: claim.version },
      ]);
      return;
    }
    let retryIndex = next.state === "delayed" || next.state === "waiting" ? this.#keys.indexEntry(next.priority, next.runAt, next.id) : undefined;
    if (retryIndex === claim.key) retryIndex = undefined; // due at the very same entry: put it back below
    if (retryIndex) await driver.put(retryIndex, EMPTY);
    const w = await driver.put(this.#keys.record(rec.id), encodeRecord(next), { guard: { key: claim.key, version: claim.version } });
    if (!w.ok) {
      if (retryIndex) await driver.delete(retryIndex);
      return;
    }
    if (finished || retryIndex) await driver.delete(claim.key, { ifVersion: claim.version });
    else await this.#giveBack(claim);
  }

  /** Stops claiming, waits for running handlers up to `closeTimeoutMs`, then aborts the rest and gives their tasks back. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      this.#wake.notify();
      await this.#loop.catch(() => undefined);
      const settle = (ms: number): Promise<unknown> =>
        Promise.race([Promise.all([...this.#running.values()].map((r) => r.done)), new Promise((r) => setTimeout(r, ms).unref())]);
      await settle(this.#closeTimeoutMs);
      for (const r of this.#running.values()) r.ac.abort();
      await settle(1000);
      // Handlers that ignore their signal: free their claims so the tasks run elsewhere.
      await Promise.all([...this.#running.values()].map((r) => this.#giveBack(r.claim).catch(() => undefined)));
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Sets `key` last in insertion order, dropping the oldest entry past CACHE_MAX. */
function remember<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key);
  if (m.size >= CACHE_MAX) m.delete(m.keys().next().value!);
  m.set(key, value);
}
