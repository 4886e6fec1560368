import type { WatchEvent, WatchOptions } from "../../driver/types.js";
import { ConcordError, isConcordError } from "../../errors.js";
import { type Clock, sleep } from "../../internal/clock.js";
import { abortableIterable, isAbortOf } from "../../internal/stream.js";
import type { Changes } from "./replies.js";
import type { LogTail } from "./tail.js";

/** What a watch needs from the driver. */
export interface WatchSource {
  /** Reads the log from `from` (see scripts/changes.lua). */
  changes(prefix: string, from: number, limit: number): Promise<Changes>;
  revision(): Promise<number>;
  readonly tail: LogTail;
  /** Aborts when the driver closes; watches then end. */
  readonly closed: AbortSignal;
  /** Paces retries while the server is unreachable. */
  readonly clock: Clock;
}

const BATCH = 256;
const RETRY_MS = [100, 250, 500, 1000, 2000];

function compacted(message: string): ConcordError {
  return new ConcordError("COMPACTED", message, { engine: "redis" });
}

/**
 * A watch over the keyspace's change stream: it reads from its own cursor (so delivery is in
 * revision order with no gap and no duplicate, and a slow consumer holds one batch), by script on
 * the command connection, or, once caught up, from the changes the {@link LogTail} was pushed, with
 * no round trip; it sleeps on the tail between batches. While the server is unreachable it waits
 * and resumes from its cursor; it throws `COMPACTED` when the history it needs was trimmed, or when
 * the server came back with an older revision (it lost its data).
 */
export function redisWatch(src: WatchSource, prefix: string, opts: WatchOptions): AsyncIterable<WatchEvent> {
  return abortableIterable([src.closed, opts.signal], (signal) =>
    (async function* () {
      let failures = 0;
      // Retries `fn` while the failure is one a reconnect cures; the signal ends the wait.
      const retrying = async <T>(fn: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            const out = await fn();
            failures = 0;
            return out;
          } catch (e) {
            if (signal.aborted || !isConcordError(e, "UNAVAILABLE") || !e.retryable) throw e;
            await sleep(src.clock, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!, signal);
          }
        }
      };
      try {
        src.tail.start();
        let cursor = opts.fromRevision ?? (await retrying(() => src.revision())) + 1;
        let highest = 0;
        // The first read goes by script: it is the one that can find the history compacted.
        let started = false;
        for (;;) {
          const seen = src.tail.changed.seq;
          const kept = started ? src.tail.since(cursor, prefix, BATCH) : undefined;
          if (kept) {
            for (const ev of kept.events) yield ev;
            const more = kept.next > cursor && kept.events.length === BATCH;
            cursor = kept.next;
            highest = Math.max(highest, cursor - 1);
            if (!more) await src.tail.changed.wait(seen, signal);
            continue;
          }
          const c = await retrying(() => src.changes(prefix, cursor, BATCH));
          started = true;
          if (c.revision < highest) {
            throw compacted(`the redis keyspace went back from revision ${highest} to ${c.revision} (the server lost its data); re-read and watch again`);
          }
          highest = Math.max(highest, c.revision);
          if (c.compacted) {
            throw compacted(`revision ${cursor} has been compacted; the oldest kept is ${c.firstKept}; re-read and watch from there`);
          }
          for (const ev of c.events) yield ev;
          cursor = c.scannedTo + 1;
          if (c.scannedTo < c.revision) continue;
          await src.tail.changed.wait(seen, signal);
        }
      } catch (e) {
        if (isAbortOf(signal, e) || src.closed.aborted) return;
        throw e;
      }
    })(),
  );
}
