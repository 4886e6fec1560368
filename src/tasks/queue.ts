import { randomUUID } from "node:crypto";
import { type CallOptions, type Context, checkValueSize } from "../context.js";
import { invalid } from "../errors.js";
import { checkVersion } from "../driver/validate.js";
import { checkName } from "../internal/names.js";
import { abortableIterable } from "../internal/stream.js";
import { checkOpts, type WatchOptions } from "../primitives/shared.js";
import { waitFor } from "../primitives/wait-for.js";
import { nextCron, parseCron } from "./cron.js";
import { TaskKeys } from "./keys.js";
import { decodeRecord, encodeRecord, isFinished } from "./record.js";
import type { BackoffOptions, Handler, QueueStats, SubmitOptions, TaskRecord, WorkOptions } from "./types.js";
import { Worker } from "./worker.js";

const EMPTY = new Uint8Array();
/** Missed ticks of an `everyMs` schedule submitted late, at most. */
const CATCH_UP = 10;

function normalizeBackoff(b: SubmitOptions["backoff"]): BackoffOptions {
  if (b === undefined) return {};
  if (typeof b === "number") {
    if (!(b >= 0) || !Number.isFinite(b)) throw invalid("backoff", `expected a non-negative number of milliseconds, got ${String(b)}`);
    return { delayMs: b };
  }
  if (typeof b !== "object" || b === null) throw invalid("backoff", "expected { delayMs, maxMs }, a number, or { type, delay }");
  const delayMs = "delay" in b ? b.delay : b.delayMs;
  if (delayMs !== undefined && (!(delayMs >= 0) || !Number.isFinite(delayMs))) throw invalid("backoff", "the delay must be a non-negative number of milliseconds");
  if (b.type !== undefined && b.type !== "exponential" && b.type !== "fixed") throw invalid("backoff", `unknown type ${String(b.type)}`);
  const out: BackoffOptions = {};
  if (delayMs !== undefined) out.delayMs = delayMs;
  if ("maxMs" in b && b.maxMs !== undefined) out.maxMs = b.maxMs;
  if (b.type !== undefined) out.type = b.type;
  return out;
}

/** The outcome of a finished task, as `result(id)` reports it. */
export type TaskOutcome = { state: "done"; result: unknown } | { state: "failed"; error: string };

/**
 * A durable task queue over the driver contract: at-least-once, lease-based claims, retries with
 * exponential backoff and jitter, dead letters, idempotent submit by id, priorities and delays.
 */
export class TaskQueue {
  readonly name: string;
  readonly #ctx: Context;
  readonly #keys: TaskKeys;
  readonly #retainMs: number;

  constructor(ctx: Context, name: string, opts: { retainMs?: number } = {}) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    const retainMs = opts.retainMs ?? 24 * 3600_000;
    if (!Number.isSafeInteger(retainMs) || retainMs < 0) throw invalid("retainMs", `expected a non-negative integer, got ${String(retainMs)}`);
    this.#ctx = ctx;
    this.#keys = new TaskKeys(ctx.ns, name);
    this.#retainMs = retainMs;
  }

  /**
   * Drops finished tasks older than `retainMs` (results, dead letters, and with them the memory of
   * their ids for deduplication). Workers call it now and then; returns how many were dropped.
   */
  async prune(opts: { signal?: AbortSignal } = {}): Promise<number> {
    const cutoff = this.#ctx.clock.now() - this.#retainMs;
    let n = 0;
    for (const r of await this.#all(opts.signal)) {
      if (isFinished(r.state) && (r.finishedAt ?? 0) <= cutoff) {
        if ((await this.#ctx.driver.delete(this.#keys.record(r.id), { ifVersion: r.version })).ok) n++;
      }
    }
    return n;
  }

  /**
   * Enqueues a task; with `id` a second submit returns the first task instead. The run index entry
   * is written before the record, so a crash in between leaves a harmless dangling entry, never a
   * record nobody will run.
   */
  async submit(kind: string, payload: unknown, opts: SubmitOptions = {}): Promise<TaskRecord> {
    checkName("kind", kind);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    const id = opts.id === undefined ? randomUUID() : checkName("id", opts.id);
    if (id.includes("/")) throw invalid("id", "must not contain '/'");
    const attempts = opts.attempts ?? 3;
    if (!Number.isSafeInteger(attempts) || attempts < 1) throw invalid("attempts", `expected a positive integer, got ${String(attempts)}`);
    const delayMs = opts.delayMs ?? 0;
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw invalid("delayMs", `expected a non-negative number, got ${String(delayMs)}`);
    const priority = opts.priority ?? 0;
    if (!Number.isSafeInteger(priority) || Math.abs(priority) > 1_000_000) throw invalid("priority", "expected an integer within ±1,000,000");
    const now = this.#ctx.clock.now();
    const record: TaskRecord = {
      id,
      kind,
      payload: payload ?? null,
      state: delayMs > 0 ? "delayed" : "waiting",
      attempt: 0,
      attempts,
      priority,
      runAt: now + delayMs,
      backoff: normalizeBackoff(opts.backoff),
      createdAt: now,
    };
    const bytes = checkValueSize(this.#ctx, encodeRecord(record));
    const sig = opts.signal ? { signal: opts.signal } : {};
    const index = this.#keys.indexEntry(priority, record.runAt, id);
    const batch = opts.signal ? this.#ctx.driver.batch?.bind(this.#ctx.driver) : this.#ctx.batch;
    if (batch) {
      // Both writes in one atomic step where the driver can (with other submits of this turn, unless
      // this one may be aborted); a clash on the index entry takes the long way.
      const b = await batch([{ type: "put", key: index, value: EMPTY, ifVersion: 0 }, { type: "put", key: this.#keys.record(id), value: bytes, ifVersion: 0 }], sig);
      if (b.ok) return record;
      // A duplicate id: nothing was written, the first submit stands.
      if (b.failed === 1 && !b.result.ok && "current" in b.result && b.result.current) return decodeRecord(b.result.current);
    }
    // Only if absent: a same-id submit in the same ms must not strip a running task's claim from it.
    await this.#ctx.driver.put(index, EMPTY, { ifVersion: 0, ...sig });
    const r = await this.#ctx.driver.put(this.#keys.record(id), bytes, { ifVersion: 0, ...sig });
    if (r.ok) return record;
    const existing = decodeRecord(r.current!);
    // A duplicate: the first submit's entry stands (and may be this very key, if both came in one ms).
    if (this.#keys.indexEntry(existing.priority, existing.runAt, id) !== index) await this.#ctx.driver.delete(index, sig);
    return existing;
  }

  async get(id: string, opts: { signal?: AbortSignal } = {}): Promise<(TaskRecord & { version: number }) | undefined> {
    const e = await this.#ctx.driver.get(this.#keys.record(checkName("id", id)), opts);
    return e && decodeRecord(e);
  }

  /** Waits until the task has finished, and says how. */
  async result(id: string, opts: CallOptions = {}): Promise<TaskOutcome> {
    checkName("id", id);
    let outcome: TaskOutcome | undefined;
    await waitFor(this.#ctx, this.#keys.record(id), async (signal) => {
      const r = await this.get(id, { signal });
      if (r?.state === "done") outcome = { state: "done", result: r.result ?? null };
      else if (r?.state === "failed") outcome = { state: "failed", error: r.error ?? "unknown error" };
      return outcome !== undefined;
    }, opts);
    return outcome!;
  }

  /**
   * Every change of a task of this queue from now on (or replayed from `fromVersion` inclusive):
   * submitted, claimed, progress, retried, done or failed, each as the record then stood, with its
   * version. Like BullMQ's QueueEvents; filter on `state` for completions and failures. Records
   * dropped by `prune()` are not reported.
   */
  watch(opts: WatchOptions = {}): AsyncIterable<TaskRecord & { version: number }> {
    checkOpts(opts);
    checkVersion("fromVersion", opts.fromVersion);
    const { driver, closed } = this.#ctx;
    const prefix = this.#keys.records;
    return abortableIterable([opts.signal, closed], (signal) =>
      (async function* () {
        for await (const ev of driver.watch(prefix, { fromRevision: opts.fromVersion, signal })) {
          if (signal.aborted) return;
          if (ev.type === "put") yield decodeRecord(ev.entry);
        }
      })(),
    );
  }

  /** Counts by state; waiting and delayed are told apart by the due time. */
  async stats(opts: { signal?: AbortSignal } = {}): Promise<QueueStats> {
    const s: QueueStats = { waiting: 0, delayed: 0, active: 0, done: 0, failed: 0 };
    const now = this.#ctx.clock.now();
    for (const r of await this.#all(opts.signal)) {
      if (r.state === "waiting" || r.state === "delayed") s[r.runAt > now ? "delayed" : "waiting"]++;
      else s[r.state]++;
    }
    return s;
  }

  /** The dead letters: tasks that failed their last attempt, with their errors. */
  async failed(opts: { signal?: AbortSignal } = {}): Promise<TaskRecord[]> {
    return (await this.#all(opts.signal)).filter((r) => r.state === "failed");
  }

  async #all(signal?: AbortSignal): Promise<Array<TaskRecord & { version: number }>> {
    const out: Array<TaskRecord & { version: number }> = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#ctx.driver.range(this.#keys.records, { limit: 500, ...(startAfter ? { startAfter } : {}), ...(signal ? { signal } : {}) });
      out.push(...page.entries.map(decodeRecord));
      if (!page.more) return out;
      startAfter = page.entries[page.entries.length - 1]!.key;
    }
  }

  /** Starts a worker claiming tasks of the kinds in `handlers`. `close()` stops it. */
  work(handlers: Record<string, Handler>, opts: WorkOptions = {}): Worker {
    if (typeof handlers !== "object" || handlers === null || Object.values(handlers).some((h) => typeof h !== "function")) {
      throw invalid("handlers", "expected an object of kind → function");
    }
    return new Worker(this.#ctx, this.#keys, handlers, opts, () => this.prune());
  }

  /**
   * Enqueues exactly one task per tick, however many processes run the same schedule: each tick's
   * task id is derived from the tick, so submits from everyone collapse into one. Ticks are every
   * `everyMs`, or the minutes a five-field `cron` expression (UTC) matches. Returns `stop()`.
   */
  schedule(name: string, when: { everyMs: number } | { cron: string }, kind: string, payload?: unknown): () => void {
    checkName("name", name);
    checkName("kind", kind);
    if (typeof when !== "object" || when === null) throw invalid("when", "expected { everyMs } or { cron }");
    let next: (now: number) => { slot: number; at: number };
    if ("cron" in when) {
      const cron = parseCron(when.cron);
      next = (now) => {
        const at = nextCron(cron, now - 60_000); // the current minute counts if it matches
        return at <= now ? { slot: at, at: nextCron(cron, now) } : { slot: -1, at };
      };
    } else {
      const everyMs = when.everyMs;
      if (typeof everyMs !== "number" || !Number.isSafeInteger(everyMs) || everyMs < 100) throw invalid("everyMs", "expected an integer of at least 100 ms");
      next = (now) => {
        const slot = Math.floor(now / everyMs) * everyMs;
        return { slot, at: slot + everyMs };
      };
    }
    let stopped = false;
    let timer: unknown;
    let last = -1;
    const tick = (): void => {
      if (stopped || this.#ctx.closed.aborted) return;
      const now = this.#ctx.clock.now();
      const { slot, at } = next(now);
      if (slot >= 0) {
        // A timer that fired late (a busy or paused process) catches up on the ticks it slept
        // through, a few at most; the ids make a tick submitted twice, here or elsewhere, one task.
        const every = "everyMs" in when ? when.everyMs : 0;
        const from = every > 0 && last >= 0 ? Math.max(last + every, slot - CATCH_UP * every) : slot;
        for (let s = from; s <= slot; s += every || 1) void this.submit(kind, payload ?? null, { id: `${name}@${s}` }).catch(() => undefined);
        last = slot;
      }
      timer = this.#ctx.clock.setTimeout(tick, Math.max(1, at - now));
    };
    tick();
    return () => {
      stopped = true;
      this.#ctx.clock.clearTimeout(timer);
    };
  }
}
