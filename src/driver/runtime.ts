import { abortedError, closedError, ConcordError, invalid, isConcordError, throwIfAborted } from "../errors.js";
import type {
  BatchOp,
  DeleteOptions,
  DeleteResult,
  Driver,
  Entry,
  Lease,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  WatchEvent,
  WatchOptions,
} from "./types.js";
import { checkBytes, checkKey, checkLeaseId, checkPositiveInt, checkTtl, checkVersion } from "./validate.js";
import { MAX_BATCH_OPS } from "./types.js";

type Sig = { signal?: AbortSignal };

/**
 * How long a call already sent may still finish after its signal aborts. A healthy engine answers
 * well within it, and the caller then gets the real outcome (a lock request it gave up on is then
 * withdrawn before its acquire rejects); only an engine that stopped answering is given up on.
 */
const ABORT_GRACE_MS = 250;

/**
 * `p`, or a rejection (TIMEOUT for a timeout, else ABORTED) once `signal` has aborted and `p` has
 * not settled within {@link ABORT_GRACE_MS}, so a call to an engine that has stopped answering (a
 * stalled or black-holed connection) still ends within the caller's timeout. The engine call itself
 * is left to finish or fail on its own: a write given up on this way may or may not have been
 * applied, as with any timeout. `late` gets its result if it succeeds after all.
 */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, late?: (v: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      timer = setTimeout(() => {
        gaveUp = true;
        reject(abortedError(signal));
      }, ABORT_GRACE_MS);
      timer.unref();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const settle = (): boolean => {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      return !gaveUp;
    };
    p.then(
      (v) => {
        if (settle()) resolve(v);
        else late?.(v);
      },
      (e: unknown) => {
        if (settle()) reject(e as Error);
      },
    );
  });
}

/**
 * Wraps an engine's driver once: validates every argument (so no engine sees bad input), refuses
 * use after close with `CLOSED`, honours `signal`, and turns stray engine errors into `UNAVAILABLE`.
 */
export class RuntimeDriver implements Driver {
  readonly #inner: Driver;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(inner: Driver) {
    this.#inner = inner;
    const inc = inner.increment?.bind(inner);
    if (inc) {
      this.increment = (key, delta, opts = {}) =>
        this.#run(opts.signal, () => {
          checkKey("key", key);
          if (!Number.isSafeInteger(delta)) throw invalid("delta", `expected a safe integer, got ${String(delta)}`);
          return inc(key, delta, opts);
        });
    }
    const batch = inner.batch?.bind(inner);
    if (batch) {
      this.batch = (ops, opts = {}) =>
        this.#run(opts.signal, () => {
          this.#checkBatch(ops);
          return batch(ops, opts);
        });
    }
    const sample = inner.timeSample?.bind(inner);
    if (sample) this.timeSample = (opts = {}) => this.#run(opts.signal, () => sample(opts));
    const fast = inner.putAndRange?.bind(inner);
    if (fast) {
      this.putAndRange = (key, value, opts, prefix) =>
        this.#run(opts.signal, () => {
          this.#checkPut(key, value, opts);
          checkKey("prefix", prefix, { allowEmpty: true });
          return fast(key, value, opts, prefix);
        }, (r) => this.#undoAbandoned(key, opts, r.put));
    }
  }

  readonly putAndRange?: Driver["putAndRange"];
  readonly timeSample?: Driver["timeSample"];
  readonly batch?: Driver["batch"];
  readonly increment?: Driver["increment"];

  /** Checks a put's arguments; `at` prefixes the names in errors (an op of a batch). */
  #checkPut(key: string, value: Uint8Array, opts: PutOptions, at = ""): void {
    checkKey(`${at}key`, key);
    checkBytes(`${at}value`, value);
    checkVersion(`${at}ifVersion`, opts.ifVersion);
    if (opts.lease !== undefined) checkLeaseId(`${at}lease`, opts.lease);
    this.#checkGuard(opts.guard, at);
  }

  #checkDelete(key: string, opts: DeleteOptions, at = ""): void {
    checkKey(`${at}key`, key);
    checkVersion(`${at}ifVersion`, opts.ifVersion);
    this.#checkGuard(opts.guard, at);
  }

  #checkGuard(guard: PutOptions["guard"], at: string): void {
    if (guard === undefined) return;
    checkKey(`${at}guard.key`, guard.key);
    checkVersion(`${at}guard.version`, guard.version);
  }

  #checkBatch(ops: BatchOp[]): void {
    if (!Array.isArray(ops) || ops.length === 0) throw invalid("ops", "expected a non-empty array of puts and deletes");
    if (ops.length > MAX_BATCH_OPS) throw invalid("ops", `${ops.length} ops; the limit is ${MAX_BATCH_OPS}`);
    const written = new Set<string>();
    ops.forEach((op, i) => {
      const at = `ops[${i}].`;
      if (op?.type === "put") this.#checkPut(op.key, op.value, op, at);
      else if (op?.type === "delete") this.#checkDelete(op.key, op, at);
      else throw invalid(`${at}type`, `expected "put" or "delete", got ${String((op as { type?: unknown } | undefined)?.type)}`);
      if (written.has(op.key)) throw invalid(`${at}key`, `${op.key} is written by an earlier op of the batch`);
      if (op.guard && written.has(op.guard.key)) throw invalid(`${at}guard.key`, `${op.guard.key} is written by an earlier op of the batch`);
      written.add(op.key);
    });
  }

  get engine(): string {
    return this.#inner.engine;
  }

  get timeResolutionMs(): number | undefined {
    return this.#inner.timeResolutionMs;
  }

  async #run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>, late?: (v: T) => void): Promise<T> {
    if (this.#closed) throw closedError(`the ${this.engine} driver`);
    throwIfAborted(signal);
    try {
      return await (signal === undefined ? fn() : untilAborted(fn(), signal, late));
    } catch (e) {
      if (isConcordError(e)) throw e;
      if (this.#closed) throw closedError(`the ${this.engine} driver`);
      throw new ConcordError("UNAVAILABLE", `${this.engine}: ${(e as Error)?.message ?? String(e)}`, {
        cause: e,
        engine: this.engine,
      });
    }
  }

  get(key: string, opts: Sig = {}): Promise<Entry | undefined> {
    return this.#run(opts.signal, () => {
      checkKey("key", key);
      return this.#inner.get(key, opts);
    });
  }

  range(prefix: string, opts: RangeOptions & Sig = {}): Promise<RangeResult> {
    return this.#run(opts.signal, () => {
      checkKey("prefix", prefix, { allowEmpty: true });
      checkPositiveInt("limit", opts.limit);
      if (opts.startAfter !== undefined) checkKey("startAfter", opts.startAfter);
      return this.#inner.range(prefix, opts);
    });
  }

  put(key: string, value: Uint8Array, opts: PutOptions & Sig = {}): Promise<PutResult> {
    return this.#run(
      opts.signal,
      () => {
        this.#checkPut(key, value, opts);
        return this.#inner.put(key, value, opts);
      },
      (r) => this.#undoAbandoned(key, opts, r),
    );
  }

  /**
   * A lease-bound write (a place in a lock's queue, a candidacy, a claim) that its caller gave up on
   * but that the engine applied after all is deleted again, if still unchanged: otherwise it would
   * hold a place nobody waits for until the lease ends.
   */
  #undoAbandoned(key: string, opts: PutOptions, r: PutResult): void {
    if (!r.ok || opts.lease === undefined || this.#closed) return;
    this.#inner.delete(key, { ifVersion: r.entry.modRevision }).catch(() => undefined);
  }

  delete(key: string, opts: DeleteOptions & Sig = {}): Promise<DeleteResult> {
    return this.#run(opts.signal, () => {
      this.#checkDelete(key, opts);
      return this.#inner.delete(key, opts);
    });
  }

  deletePrefix(prefix: string, opts: Sig = {}): Promise<{ deleted: number; revision: number }> {
    return this.#run(opts.signal, () => {
      checkKey("prefix", prefix);
      return this.#inner.deletePrefix(prefix, opts);
    });
  }

  revision(opts: Sig = {}): Promise<number> {
    return this.#run(opts.signal, () => this.#inner.revision(opts));
  }

  grantLease(ttlMs: number, opts: Sig = {}): Promise<Lease> {
    return this.#run(opts.signal, () => {
      checkTtl("ttlMs", ttlMs);
      return this.#inner.grantLease(ttlMs, opts);
    });
  }

  keepAlive(id: string, opts: Sig = {}): Promise<boolean> {
    return this.#run(opts.signal, () => {
      checkLeaseId("id", id);
      return this.#inner.keepAlive(id, opts);
    });
  }

  revokeLease(id: string, opts: Sig = {}): Promise<void> {
    return this.#run(opts.signal, () => {
      checkLeaseId("id", id);
      return this.#inner.revokeLease(id, opts);
    });
  }

  compact(revision: number, opts: Sig = {}): Promise<void> {
    return this.#run(opts.signal, () => {
      checkVersion("revision", revision);
      return this.#inner.compact(revision, opts);
    });
  }

  time(opts: Sig = {}): Promise<number> {
    return this.#run(opts.signal, () => this.#inner.time(opts));
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    if (this.#closed) throw closedError(`the ${this.engine} driver`);
    checkKey("prefix", prefix, { allowEmpty: true });
    checkVersion("fromRevision", opts.fromRevision);
    return this.#inner.watch(prefix, opts);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#inner.close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
