import type { Etcd3, IEvent, IWatchResponse } from "etcd3";
import type { WatchEvent } from "../../driver/types.js";
import { ConcordError, isConcordError } from "../../errors.js";
import { isAbortOf } from "../../internal/stream.js";
import { untilAborted } from "../../internal/abort.js";
import { pause } from "./abort.js";
import { isTransient, toConcordError } from "./errors.js";
import { endStream } from "./keep-alive.js";
import type { Keyspace } from "./keys.js";

/** What a watch needs from its driver. */
export interface WatchSource {
  readonly client: Etcd3;
  readonly keys: Keyspace;
  /** The cluster's endpoints, for messages. */
  readonly endpoints: string;
  /** The earliest revision an event of this keyspace can have. */
  firstRevision(): Promise<number>;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

function toEvent(keys: Keyspace, ev: IEvent): WatchEvent | undefined {
  const key = keys.strip(ev.kv.key);
  if (key === "") return undefined; // the keyspace's head key
  const revision = Number(ev.kv.mod_revision);
  return ev.type === "Delete" ? { type: "delete", key, revision } : { type: "put", key, revision, entry: keys.entry(ev.kv) };
}

/**
 * Changes under `prefix` from revision `start` on, each stream its own etcd watch. A lost stream
 * is reopened (on whichever member answers) from the revision after the last response delivered:
 * etcd never splits one revision across responses, and a whole response is yielded before the
 * next is read, so a resume has no gap and no duplicate even when one revision deleted several
 * keys (a lease expiry). Ends when `signal` aborts; throws `COMPACTED` when etcd no longer has
 * the history asked for. Compaction is of the whole cluster, so history from before a keyspace's
 * first write was never this keyspace's: a watch from there starts at the compaction point instead.
 */
export async function* watchEvents(
  src: WatchSource,
  prefix: string,
  start: Promise<number>,
  signal: AbortSignal,
): AsyncGenerator<WatchEvent, void, undefined> {
  const { key, range_end } = src.keys.range(prefix);
  let next: number;
  try {
    next = await untilAborted(start, signal);
  } catch (e) {
    if (isAbortOf(signal, e)) return;
    throw toConcordError(e, src.endpoints);
  }
  let delay = RETRY_MIN_MS;
  while (!signal.aborted) {
    let stream: Awaited<ReturnType<Etcd3["watchClient"]["watch"]>> | undefined;
    const onAbort = (): void => {
      if (stream) endStream(stream);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      stream = await untilAborted(src.client.watchClient.watch(), signal);
      // fragment: a revision too large for one message comes in pieces instead of failing the stream.
      stream.write({ create_request: { key, range_end, start_revision: next, progress_notify: true, fragment: true } });
      let pending: WatchEvent[] = [];
      let upTo = 0; // the newest revision in the response being assembled
      let rescued = false;
      // grpc-js streams are Node streams: iterating one reads with backpressure.
      for await (const res of stream as unknown as AsyncIterable<IWatchResponse>) {
        if (res.compact_revision !== undefined && res.compact_revision !== "0") {
          const compacted = Number(res.compact_revision);
          if ((await src.firstRevision()) < compacted) {
            throw new ConcordError(
              "COMPACTED",
              `revision ${next} has been compacted; the oldest kept is ${compacted}; re-read and watch from there`,
              { engine: "etcd" },
            );
          }
          next = compacted;
          rescued = true;
          break;
        }
        if (res.canceled) {
          throw new ConcordError("UNAVAILABLE", `etcd cancelled the watch of ${JSON.stringify(prefix)}: ${res.cancel_reason || "no reason given"}`, {
            engine: "etcd",
            retryable: false,
          });
        }
        if (res.created) {
          delay = RETRY_MIN_MS;
          continue;
        }
        for (const ev of res.events) {
          upTo = Math.max(upTo, Number(ev.kv.mod_revision));
          const mapped = toEvent(src.keys, ev);
          if (mapped) pending.push(mapped);
        }
        if (res.fragment) continue;
        // No events: a progress notification, sent once everything up to its revision was.
        const through = upTo === 0 ? Number(res.header.revision) : upTo;
        const batch = pending;
        pending = [];
        upTo = 0;
        for (const ev of batch) yield ev;
        next = Math.max(next, through + 1);
      }
      // History before the keyspace's first write was compacted: nothing lost, reopen at once.
      if (rescued) continue;
      // Otherwise the member ended the stream (shutting down, say): reopen after a pause.
    } catch (e) {
      if (signal.aborted) return;
      if (isConcordError(e)) throw e;
      if (!isTransient(e)) throw toConcordError(e, src.endpoints);
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (stream) endStream(stream);
    }
    try {
      await pause(delay, signal);
    } catch {
      return;
    }
    delay = Math.min(RETRY_MAX_MS, delay * 2);
  }
}
