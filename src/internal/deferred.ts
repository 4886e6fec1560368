/** `Promise.withResolvers`, which Node 20 lacks. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A change counter many readers can wait on without losing a wake-up: read `seq`, look for work,
 * and if there is none `wait(seq)` resolves once `notify()` has been called after that read.
 */
export class Notifier {
  #seq = 0;
  #waiters = new Set<() => void>();
  // Someone awaiting a change (a lock waiter, a watch loop) keeps the process alive, as a socket would;
  // every other timer of Concord is unref'ed.
  #keepOpen: NodeJS.Timeout | undefined;

  #sync(): void {
    if (this.#waiters.size > 0 && !this.#keepOpen) this.#keepOpen = setInterval(() => {}, 1 << 30);
    else if (this.#waiters.size === 0 && this.#keepOpen) {
      clearInterval(this.#keepOpen);
      this.#keepOpen = undefined;
    }
  }

  get seq(): number {
    return this.#seq;
  }

  notify(): void {
    this.#seq++;
    if (this.#waiters.size === 0) return;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    this.#sync();
    for (const w of ws) w();
  }

  wait(seenSeq: number, signal?: AbortSignal): Promise<void> {
    if (this.#seq !== seenSeq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#waiters.delete(wake);
        this.#sync();
        reject(signal?.reason as Error);
      };
      this.#waiters.add(wake);
      this.#sync();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
