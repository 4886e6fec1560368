import { jsonCodec } from "../codec.js";
import type { Context } from "../context.js";
import { checkTtl } from "../driver/validate.js";
import { invalid, isConcordError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";
import type { LeaseHandle } from "../session.js";
import type { TaskKeys } from "./keys.js";
import { decodeRecord } from "./queue.js";
import type { Handler, TaskRecord, WorkOptions } from "./types.js";

const EMPTY = new Uint8Array();
const SCAN = 64;
/** An index entry whose record is still missing this long after it fell due was left by a crashed submit. */
const STALE_AFTER_MS = 60_000;

interface Claim {
  key: string;
  version: number;
  lease: LeaseHandle;
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
    const unsubscribe = await this.#ctx.hub.subscribe(this.#keys.root, (ev) => {
      // new work, or a claim freed (done, or its worker died)
      if (ev === undefined || (ev.type === "put" && ev.key.startsWith(this.#keys.index)) || (ev.type === "delete" && ev.key.startsWith(this.#keys.claims))) this.#wake.notify();
    });
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

  /** Claims due tasks while there are free slots; returns when the next delayed one falls due. */
  async #claimSome(): Promise<number> {
    let nextDue = Infinity;
    if (this.#running.size >= this.#concurrency) return nextDue;
    const { driver } = this.#ctx;
    const claimed = new Set((await driver.range(this.#keys.claims)).entries.map((e) => e.key.slice(this.#keys.claims.length)));
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
    await Promise.all(due.slice(0, free).map((d) => this.#tryClaim(d.id, d.key)));
    if (due.length > free) nextDue = Math.min(nextDue, now); // more are due: look again when a slot frees
    if (index.more) nextDue = Math.min(nextDue, now + 200);
    return nextDue;
  }

  async #tryClaim(id: string, indexKey: string): Promise<void> {
    const { driver } = this.#ctx;
    const lease = await this.#ctx.leaseFor(this.#claimTtlMs);
    const c = await driver.put(this.#keys.claim(id), EMPTY, { ifVersion: 0, lease: lease.id });
    if (!c.ok) return;
    const claim: Claim = { key: this.#keys.claim(id), version: c.entry.modRevision, lease };
    const e = await driver.get(this.#keys.record(id));
    // The record as stored, and apart from it the version to compare-and-set against.
    const { version, ...rec } = e ? decodeRecord(e) : ({ version: 0 } as Partial<TaskRecord> & { version: number });
    if (!e && this.#keys.parseIndex(indexKey).runAt + STALE_AFTER_MS > this.#ctx.clock.now()) {
      // submit writes the index entry first: its record may be a moment away. Look again later.
      await driver.delete(claim.key);
      return;
    }
    if (!e || rec.state === "done" || rec.state === "failed" || this.#keys.indexEntry(rec.priority!, rec.runAt!, id) !== indexKey) {
      await driver.delete(indexKey); // stale entry: the record moved on or never landed
      await driver.delete(claim.key);
      return;
    }
    const record = rec as TaskRecord;
    const handler = this.#handlers[record.kind];
    if (!handler) {
      this.#foreign.add(id);
      await driver.delete(claim.key); // another worker may know this kind
      return;
    }
    record.attempt += 1;
    if (record.attempt > record.attempts) {
      // it was claimed as often as allowed and every claimant died: dead-letter it
      await this.#finish(record, indexKey, claim, { state: "failed", error: "its worker was lost on the last attempt" });
      return;
    }
    const active: TaskRecord = { ...record, state: "active" };
    const w = await driver.put(this.#keys.record(id), jsonCodec.encode(active), { ifVersion: version, guard: { key: claim.key, version: claim.version } });
    if (!w.ok) {
      await driver.delete(claim.key);
      return;
    }
    const ac = new AbortController();
    const lost = (): void => ac.abort(lease.signal.reason);
    lease.signal.addEventListener("abort", lost, { once: true });
    const done = this.#execute(active, indexKey, claim, handler, ac.signal).finally(() => {
      lease.signal.removeEventListener("abort", lost);
      this.#running.delete(id);
      this.#wake.notify();
    });
    this.#running.set(id, { ac, done, claim });
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
    await this.#finish(rec, indexKey, claim, outcome).catch(() => undefined); // a lost claim: the next worker owns the task
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
    if (next.state !== "waiting") await driver.delete(indexKey);
    await driver.delete(claim.key);
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
