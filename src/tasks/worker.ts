import { randomBytes } from "node:crypto";
import { jsonCodec } from "../codec.js";
import type { Context } from "../context.js";
import type { WatchEvent } from "../driver/types.js";
import { checkTtl } from "../driver/validate.js";
import { invalid, isConcordError } from "../errors.js";
import { sleep } from "../internal/clock.js";
import { Notifier } from "../internal/deferred.js";
import type { LeaseHandle } from "../session.js";
import type { TaskKeys } from "./keys.js";
import { decodeRecord } from "./queue.js";
import type { Handler, TaskRecord, WorkOptions } from "./types.js";

const EMPTY = new Uint8Array();
const SCAN = 64;
/** An index entry whose record is still missing this long after it fell due was left by a crashed submit. */
const STALE_AFTER_MS = 60_000;
/** Runnable records remembered from the watch, at most. */
const CACHE_MAX = 20_000;

type Stored = TaskRecord & { version: number };

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
  /** The value of this worker's claim keys, so it can tell its own from another worker's on the same lease. */
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
        if (this.#ctx.clock.now() - this.#lastPrune > 60_000) {
          this.#lastPrune = this.#ctx.clock.now();
          void this.#prune().catch(() => undefined); // finished tasks past retainMs; best effort
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
   * entry, so the entry is there to find) or a freed claim (done, or its worker died), and keeps
   * the runnable records the watch carries.
   */
  #observe(ev: WatchEvent | undefined): void {
    if (ev === undefined) {
      this.#seen.clear(); // history lost: nothing remembered can be trusted
      this.#wake.notify();
      return;
    }
    if (ev.key.startsWith(this.#keys.records)) {
      const id = ev.key.slice(this.#keys.records.length);
      this.#seen.delete(id);
      if (ev.type === "delete") return;
      let r: Stored;
      try {
        r = decodeRecord(ev.entry);
      } catch {
        return;
      }
      if (r.state !== "waiting" && r.state !== "delayed") return;
      if (this.#seen.size >= CACHE_MAX) this.#seen.delete(this.#seen.keys().next().value!);
      this.#seen.set(id, r);
      this.#wake.notify();
    } else if (ev.type === "delete" && ev.key.startsWith(this.#keys.claims)) {
      this.#wake.notify();
    }
  }

  /** Claims due tasks while there are free slots; returns when the next delayed one falls due. */
  async #claimSome(): Promise<number> {
    let nextDue = Infinity;
    if (this.#running.size >= this.#concurrency) return nextDue;
    const { driver } = this.#ctx;
    const claims = (await driver.range(this.#keys.claims)).entries;
    const claimed = new Set<string>();
    for (const e of claims) {
      const id = e.key.slice(this.#keys.claims.length);
      claimed.add(id);
      // Ours, yet nothing runs it: a claim whose write or whose next step failed (engine away). Free it.
      if (!this.#running.has(id) && !this.#claiming.has(id) && sameBytes(e.value, this.#token)) {
        void driver.delete(e.key, { ifVersion: e.modRevision }).catch(() => undefined);
      }
    }
    const index = await driver.range(this.#keys.index, { limit: SCAN + claimed.size });
    const now = this.#ctx.clock.now();
    const due: Array<{ id: string; key: string }> = [];
    for (const e of index.entries) {
      const { runAt, id } = this.#keys.parseIndex(e.key);
      if (claimed.has(id) || this.#running.has(id) || this.#foreign.has(id)) continue;
      if (runAt > now) nextDue = Math.min(nextDue, runAt);
      else due.push({ id, key: e.key });
    }
    // Claim as many as there are free slots, all at once: each claim is a few round trips.
    const free = this.#concurrency - this.#running.size;
    await Promise.all(
      due.slice(0, free).map(async (d) => {
        this.#claiming.add(d.id);
        try {
          await this.#tryClaim(d.id, d.key);
        } finally {
          this.#claiming.delete(d.id);
        }
      }),
    );
    if (due.length > free) nextDue = Math.min(nextDue, now); // more are due: look again when a slot frees
    if (index.more) nextDue = Math.min(nextDue, now + 200);
    return nextDue;
  }

  async #tryClaim(id: string, indexKey: string): Promise<void> {
    const { driver } = this.#ctx;
    const lease = await this.#ctx.leaseFor(this.#claimTtlMs);
    const c = await driver.put(this.#keys.claim(id), this.#token, { ifVersion: 0, lease: lease.id });
    if (!c.ok) return;
    const claim: Claim = { key: this.#keys.claim(id), version: c.entry.modRevision, lease };
    // The record as the watch carried it, if it is the one this index entry stands for; else read it.
    const hint = this.#seen.get(id);
    if (hint && this.#keys.indexEntry(hint.priority, hint.runAt, id) === indexKey) {
      const conflict = await this.#activate(hint, indexKey, claim);
      if (conflict === false) return;
      // The hint was behind: judge again by the record as it is now.
      await this.#activate(conflict, indexKey, claim, true);
      return;
    }
    const e = await driver.get(this.#keys.record(id));
    await this.#activate(e && decodeRecord(e), indexKey, claim, true);
  }

  /**
   * Under a fresh claim, marks the record active (one more attempt spent) and starts its handler,
   * or cleans up after a stale index entry. Returns false when done with the claim, or the record
   * as it is now when `stored` was out of date and `last` is not set (the caller looks again).
   */
  async #activate(stored: Stored | undefined, indexKey: string, claim: Claim, last = false): Promise<false | Stored | undefined> {
    const { driver } = this.#ctx;
    const id = this.#keys.parseIndex(indexKey).id;
    if (!stored && this.#keys.parseIndex(indexKey).runAt + STALE_AFTER_MS > this.#ctx.clock.now()) {
      // submit writes the index entry first: its record may be a moment away. Look again later.
      await driver.delete(claim.key);
      return false;
    }
    if (!stored || stored.state === "done" || stored.state === "failed" || this.#keys.indexEntry(stored.priority, stored.runAt, id) !== indexKey) {
      await driver.delete(indexKey); // stale entry: the record moved on or never landed
      await driver.delete(claim.key);
      return false;
    }
    // The record as stored, and apart from it the version to compare-and-set against.
    const { version, ...record } = stored;
    const handler = this.#handlers[record.kind];
    if (!handler) {
      this.#foreign.add(id);
      await driver.delete(claim.key); // another worker may know this kind
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
      await this.#finish(record, indexKey, claim, { state: "failed", error: "its worker was lost on the last attempt" });
      return false;
    }
    const active: TaskRecord = { ...record, state: "active" };
    const w = await driver.put(this.#keys.record(id), jsonCodec.encode(active), { ifVersion: version, guard: { key: claim.key, version: claim.version } });
    if (!w.ok) {
      if (!last && !w.guardFailed) return w.current && decodeRecord(w.current);
      await driver.delete(claim.key);
      return false;
    }
    this.#seen.delete(id);
    const ac = new AbortController();
    const { lease } = claim;
    const lost = (): void => ac.abort(lease.signal.reason);
    lease.signal.addEventListener("abort", lost, { once: true });
    const done = this.#execute(active, indexKey, claim, handler, ac.signal).finally(() => {
      lease.signal.removeEventListener("abort", lost);
      this.#running.delete(id);
      this.#wake.notify();
    });
    this.#running.set(id, { ac, done, claim });
    return false;
  }

  async #execute(rec: TaskRecord, indexKey: string, claim: Claim, handler: Handler, signal: AbortSignal): Promise<void> {
    const progress = async (value: unknown): Promise<void> => {
      await this.#ctx.driver.put(this.#keys.record(rec.id), jsonCodec.encode({ ...rec, progress: value }), { guard: { key: claim.key, version: claim.version } });
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
        await this.#finish(rec, indexKey, claim, outcome);
        return;
      } catch (e) {
        if (isConcordError(e, "CLOSED") || !claim.lease.alive()) return;
        await sleep(this.#ctx.clock, wait, claim.lease.signal).catch(() => undefined);
      }
    }
  }

  /** Records the outcome (fenced by the claim), moves the index entry, and frees the claim. */
  async #finish(rec: TaskRecord, indexKey: string, claim: Claim, outcome: Partial<TaskRecord>): Promise<void> {
    const { driver } = this.#ctx;
    const next: TaskRecord = { ...rec, ...outcome };
    if (next.state === "done" || next.state === "failed") next.finishedAt = this.#ctx.clock.now();
    const retryIndex = next.state === "delayed" ? this.#keys.indexEntry(next.priority, next.runAt, next.id) : undefined;
    if (retryIndex) await driver.put(retryIndex, EMPTY);
    const w = await driver.put(this.#keys.record(rec.id), jsonCodec.encode(next), { guard: { key: claim.key, version: claim.version } });
    if (!w.ok) {
      if (retryIndex) await driver.delete(retryIndex);
      return;
    }
    // Both at once: should the claim go first and the process die, the entry left behind names a
    // finished record, which the next scan drops.
    await Promise.all([next.state !== "waiting" ? driver.delete(indexKey) : undefined, driver.delete(claim.key)]);
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
      await Promise.all([...this.#running.values()].map((r) => this.#ctx.driver.delete(r.claim.key, { ifVersion: r.claim.version }).catch(() => undefined)));
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
