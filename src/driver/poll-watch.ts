import { ConcordError, isConcordError } from "../errors.js";
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

/**
 * Watch written once for engines that keep a change log (memory, SQLite): each watcher pulls from its
 * own cursor, so delivery is in revision order with no gap and no duplicate, and a slow consumer
 * only holds one batch in memory.
 */
export function changeLogWatch(log: ChangeLog, prefix: string, opts: WatchOptions): AsyncIterable<WatchEvent> {
  return abortableIterable([log.closed, opts.signal], (signal) =>
    (async function* () {
      try {
        let seen = log.changed.seq;
        let cursor = opts.fromRevision ?? (await log.currentRevision()) + 1;
        for (;;) {
          const batch = await log.changesSince(prefix, cursor, BATCH);
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
