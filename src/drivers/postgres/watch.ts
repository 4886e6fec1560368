import { changeLogWatch } from "../../driver/poll-watch.js";
import type { WatchEvent, WatchOptions } from "../../driver/types.js";
import { isConcordError } from "../../errors.js";
import type { Notifier } from "../../internal/deferred.js";
import { sleep, systemClock } from "../../internal/clock.js";

/** The change log as the driver offers it; reads may fail while the server is away. */
export interface ChangeSource {
  changesSince(prefix: string, fromRevision: number, limit: number): Promise<WatchEvent[]>;
  currentRevision(): Promise<number>;
  readonly changed: Notifier;
  readonly closed: AbortSignal;
}

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 500;

/** `p`, or the signal's reason as soon as it aborts; `p` settles in the background either way. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e as Error);
      },
    );
  });
}

/** Runs `read` until it succeeds, riding out a server that is restarting or unreachable. */
async function persist<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
  let wait = FIRST_RETRY_MS;
  for (;;) {
    try {
      return await untilAborted(read(), signal);
    } catch (e) {
      if (signal.aborted || !isConcordError(e, "UNAVAILABLE") || !e.retryable) throw e;
    }
    await sleep(systemClock, wait, signal);
    wait = Math.min(MAX_RETRY_MS, wait * 2);
  }
}

/**
 * {@link changeLogWatch} over a change log on a server: reads that fail because the connection is
 * lost are retried from the same cursor until the server answers again, so the stream resumes by
 * itself with no gap and no duplicate. `break`, the caller's signal and the driver's close end it at
 * once, even while it is waiting for the server.
 */
export function resumableWatch(src: ChangeSource, prefix: string, opts: WatchOptions): AsyncIterable<WatchEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
      const stop = new AbortController();
      const sources = [src.closed, opts.signal].filter((s): s is AbortSignal => s !== undefined);
      const onAbort = (): void => stop.abort();
      if (sources.some((s) => s.aborted)) stop.abort();
      else for (const s of sources) s.addEventListener("abort", onAbort, { once: true });
      const unlink = (): void => {
        for (const s of sources) s.removeEventListener("abort", onAbort);
      };
      const inner = changeLogWatch(
        {
          changesSince: (p, from, limit) => persist(() => src.changesSince(p, from, limit), stop.signal),
          currentRevision: () => persist(() => src.currentRevision(), stop.signal),
          changed: src.changed,
          // changeLogWatch ends quietly once this aborts, whatever it was waiting for.
          closed: stop.signal,
        },
        prefix,
        opts,
      )[Symbol.asyncIterator]();
      const end = async (): Promise<IteratorResult<WatchEvent>> => {
        stop.abort();
        unlink();
        await inner.return?.();
        return { done: true, value: undefined };
      };
      return {
        next: async () => {
          try {
            const r = await inner.next();
            if (r.done) unlink();
            return r;
          } catch (e) {
            unlink();
            throw e;
          }
        },
        return: end,
        throw: async (e: unknown) => {
          await end();
          throw e;
        },
      };
    },
  };
}
