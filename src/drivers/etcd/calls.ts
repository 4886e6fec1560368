import { abortedError, closedError } from "../../errors.js";
import { untilAborted } from "../../internal/abort.js";
import { pause } from "./abort.js";
import { isTransient, toConcordError } from "./errors.js";

/** Attempts of a call that is safe to repeat (reads, lease calls) across members. */
const ATTEMPTS = 3;
const RETRY_MS = 50;

/**
 * How the driver calls etcd. A call that is safe to repeat is retried on transient failures, and
 * etcd3's pool picks a member at random each time, so a dead member costs a retry, not an error.
 * A write is never repeated: its first attempt may have been applied, and a repeated
 * compare-and-set would then report its own success as a conflict. Every failure leaves as a
 * ConcordError naming the endpoints.
 */
export class Calls {
  readonly #label: string;
  readonly #closed: AbortSignal;
  readonly #init: () => Promise<void>;
  #ready: Promise<void> | undefined;
  /** `init` has succeeded: calls need not wait for it. */
  #initDone = false;
  /** Reads that calls made from now on must wait for (see {@link Calls.holdUntil}). */
  #barrier: Promise<unknown> | undefined;

  /** `init` runs once before the first call (again on the next call if it failed). */
  constructor(label: string, closed: AbortSignal, init: () => Promise<void>) {
    this.#label = label;
    this.#closed = closed;
    this.#init = init;
  }

  run<T>(fn: () => Promise<T>, idempotent: boolean, signal: AbortSignal | undefined): Promise<T> {
    // The usual case, once `init` has succeeded and no barrier stands: straight to the call.
    if (this.#initDone && this.#barrier === undefined && !signal?.aborted) return this.attempt(fn, idempotent, signal);
    return this.#runAfter(fn, idempotent, signal);
  }

  async #runAfter<T>(fn: () => Promise<T>, idempotent: boolean, signal: AbortSignal | undefined): Promise<T> {
    if (this.#barrier) await untilAborted(this.#barrier, signal);
    await untilAborted(this.#initOnce(), signal);
    return this.attempt(fn, idempotent, signal);
  }

  /** `run` without waiting for `init` or a barrier: for `init` itself. */
  async attempt<T>(fn: () => Promise<T>, idempotent: boolean, signal: AbortSignal | undefined): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await untilAborted(fn(), signal);
      } catch (e) {
        if (signal?.aborted) throw abortedError(signal);
        if (this.#closed.aborted) throw closedError("the etcd driver");
        if (!idempotent || attempt >= ATTEMPTS || !isTransient(e)) throw toConcordError(e, this.#label);
      }
      await pause(RETRY_MS * attempt, signal).catch(() => {
        throw abortedError(signal!);
      });
    }
  }

  #initOnce(): Promise<void> {
    if (this.#ready) return this.#ready;
    const ready = this.#init().then(
      () => {
        if (this.#ready === ready) this.#initDone = true;
      },
      (e: unknown) => {
        if (this.#ready === ready) this.#ready = undefined;
        throw e;
      },
    );
    this.#ready = ready;
    return ready;
  }

  /**
   * Calls made from now on start only once `read` has settled. A watch "from now" reads the
   * revision at the call; a write the caller makes right after must not overtake that read (on
   * another member) and so land in the history the watch skips.
   */
  holdUntil(read: Promise<unknown>): void {
    const settled = read.then(
      () => undefined,
      () => undefined,
    );
    const prev = this.#barrier;
    const barrier = prev ? Promise.all([prev, settled]) : settled;
    this.#barrier = barrier;
    void barrier.then(() => {
      if (this.#barrier === barrier) this.#barrier = undefined;
    });
  }
}
