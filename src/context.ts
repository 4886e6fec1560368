import type { Codec } from "./codec.js";
import type { BatchOp, BatchResult, Driver, Guard } from "./driver/types.js";
import { ConcordError, invalid } from "./errors.js";
import type { Clock } from "./internal/clock.js";
import type { WatchHub } from "./internal/watch-hub.js";
import type { LeaseHandle } from "./session.js";

/** What every primitive gets from its client: the one place engines, sessions and limits come from. */
export interface Context {
  readonly driver: Driver;
  readonly hub: WatchHub;
  /**
   * The driver's batch, where it offers one, sent with the other batches asked for in the same turn
   * of the event loop as one engine call (see BatchCoalescer). Takes no signal: a call that must be
   * abortable goes to `driver.batch` itself.
   */
  readonly batch: ((ops: BatchOp[]) => Promise<BatchResult>) | undefined;
  readonly clock: Clock;
  /** Key prefix of this client's namespace, ending in `/`. */
  readonly ns: string;
  /** Identifies this client in lock holders and candidates. */
  readonly clientId: string;
  readonly maxValueBytes: number;
  /** Aborts when the client closes. */
  readonly closed: AbortSignal;
  /** A live lease: the client's session lease, or one of a primitive's own when given `ttlMs`. */
  leaseFor(ttlMs: number | undefined, signal?: AbortSignal): Promise<LeaseHandle>;
}

/**
 * Something that proves a right to write: a held lock or a leadership. A write made with
 * `{ fence }` happens only while the guard key is unchanged, atomically on the engine.
 */
export interface Fence {
  readonly fenceGuard: Guard;
  /** Throws `LOCK_LOST` if the holder already knows it no longer holds (signal aborted, deadline passed). */
  assertHeld(): void;
}

export function isFence(x: unknown): x is Fence {
  return typeof x === "object" && x !== null && "fenceGuard" in x && typeof (x as Fence).assertHeld === "function";
}

export function checkFence(fence: unknown): Fence | undefined {
  if (fence === undefined) return undefined;
  if (!isFence(fence)) throw invalid("fence", "expected a held lock or leadership handle");
  fence.assertHeld();
  return fence;
}

/** Encodes with the size limit applied the same way on every engine. */
export function encodeValue<T>(ctx: Context, codec: Codec<T>, value: T): Uint8Array {
  return checkValueSize(ctx, codec.encode(value));
}

/** Returns `bytes`, or throws `TOO_LARGE` if they are over the client's `maxValueBytes`. */
export function checkValueSize(ctx: Context, bytes: Uint8Array): Uint8Array {
  if (bytes.length > ctx.maxValueBytes) {
    throw new ConcordError("TOO_LARGE", `value: ${bytes.length} bytes encoded is over the limit of ${ctx.maxValueBytes} (maxValueBytes)`);
  }
  return bytes;
}

export function lockLost(fence: Fence): ConcordError {
  return new ConcordError("LOCK_LOST", `the fenced write was refused: ${fence.fenceGuard.key} is no longer held`);
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * One signal for a call from the caller's signal, its `timeoutMs` and the client's close.
 * Listeners rather than AbortSignal.any, which Node 20 may collect while it is still waited on.
 */
const NOTHING = (): void => {};

export function callSignal(opts: CallOptions, closed: AbortSignal): { signal: AbortSignal; done: () => void } {
  if (opts.timeoutMs !== undefined && (typeof opts.timeoutMs !== "number" || !(opts.timeoutMs >= 0) || !Number.isFinite(opts.timeoutMs))) {
    throw invalid("timeoutMs", `expected a non-negative number of milliseconds, got ${String(opts.timeoutMs)}`);
  }
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw invalid("signal", "expected an AbortSignal");
  // The common case needs no controller of its own: the client's close signal is the only source.
  if (opts.signal === undefined && opts.timeoutMs === undefined) return { signal: closed, done: NOTHING };
  const ac = new AbortController();
  const sources: AbortSignal[] = [closed];
  if (opts.signal) sources.push(opts.signal);
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(
      () => ac.abort(new ConcordError("TIMEOUT", `timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    timer.unref();
  }
  const listeners = sources.map((s) => {
    const fn = (): void =>
      ac.abort(s === closed ? new ConcordError("CLOSED", "the client closed") : s.reason);
    if (s.aborted) fn();
    else s.addEventListener("abort", fn, { once: true });
    return () => s.removeEventListener("abort", fn);
  });
  return {
    signal: ac.signal,
    done: () => {
      clearTimeout(timer);
      for (const off of listeners) off();
    },
  };
}
