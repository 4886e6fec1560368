import { ConcordError, isConcordError } from "../errors.js";
import { sleep, systemClock } from "../internal/clock.js";
import type { Notifier } from "../internal/deferred.js";
import { abortableIterable, isAbortOf } from "../internal/stream.js";
import type { WatchEvent, WatchOptions } from "./types.js";

/** What an engine that keeps its own change log offers to {@link changeLogWatch}. */
export interface ChangeLog {
  /** Events under `prefix` with revision >= `fromRevision`, in order, at most `limit`; throws `COMPACTED`. */
  changesSince(prefix: string, fromRevision: number, limit: number): Promise<WatchEvent[]>;
  /** The newest revision written. */
  currentRevision(): Promise<number>;
  /** Notified after every write that this process can see. */
  readonly changed: Notifier;
  /** Aborts when the driver closes; watches then end. */
  readonly closed: AbortSignal;
}

const BATCH = 256;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 500;

/** `p`, or the signal's reason as soon as it aborts (`p` settles in the background). */
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

/**
 * Runs `read` until it succeeds while its failures are retryable `UNAVAILABLE` (a server restarting
 * or unreachable): the watch resumes from the same cursor, so nothing is skipped or repeated.
 */
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
 * Watch written once for engines that keep a change log (memory, SQLite, PostgreSQL): each watcher
 * pulls from its own cursor, so delivery is in revision order with no gap and no duplicate, a slow
 * consumer only holds one batch in memory, and reads that fail while a server is away are retried
 * from the same cursor. `break`, the caller's signal and the driver's close end it at once.
 */
export function changeLogWatch(log: ChangeLog, prefix: string, opts: WatchOptions): AsyncIterable<WatchEvent> {
  return abortableIterable([log.closed, opts.signal], (signal) =>
    (async function* () {
      try {
        let seen = log.changed.seq;
        let cursor = opts.fromRevision ?? (await persist(() => log.currentRevision(), signal)) + 1;
        for (;;) {
          const batch = await persist(() => log.changesSince(prefix, cursor, BATCH), signal);
          if (batch.length > 0) {
            for (const ev of batch) yield ev;
            cursor = batch[batch.length - 1]!.revision + 1;
            if (batch.length === BATCH) continue;
          }
          await log.changed.wait(seen, signal);
          seen = log.changed.seq;
        }
      } catch (e) {
        if (isAbortOf(signal, e) || log.closed.aborted) return;
        if (isConcordError(e)) throw e;
        throw new ConcordError("UNAVAILABLE", `watch failed: ${(e as Error).message}`, { cause: e });
      }
    })(),
  );
}
