/**
 * Turns a generator body into an AsyncIterable whose `return()` (a `break` in `for await`) and the
 * caller's `signal` both stop it promptly, even while it is waiting for the next item.
 */
export function abortableIterable<T>(
  signals: ReadonlyArray<AbortSignal | undefined>,
  body: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const ac = new AbortController();
      // Listeners, not AbortSignal.any: on Node 20 a composite signal can be collected while waited on.
      const live = signals.filter((s): s is AbortSignal => s !== undefined);
      const onAbort = (): void => ac.abort();
      const unlink = (): void => {
        for (const s of live) s.removeEventListener("abort", onAbort);
      };
      if (live.some((s) => s.aborted)) ac.abort();
      else for (const s of live) s.addEventListener("abort", onAbort, { once: true });
      const gen = body(ac.signal);
      const stop = async (): Promise<IteratorResult<T>> => {
        unlink();
        ac.abort();
        await gen.return(undefined);
        return { done: true, value: undefined };
      };
      return {
        next: async () => {
          const r = await gen.next();
          if (r.done) unlink();
          return r;
        },
        return: stop,
        throw: async (e: unknown) => {
          await stop();
          throw e;
        },
      };
    },
  };
}

/** True if `e` is the rejection of a wait cut short by `signal`. */
export function isAbortOf(signal: AbortSignal, e: unknown): boolean {
  return signal.aborted && (e === signal.reason || (e as Error)?.name === "AbortError");
}
