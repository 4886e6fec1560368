import { closedError, throwIfAborted } from "../errors.js";
import type { AppendResult, Cursor, ReadOptions, ReadResult, ReplicatedEvent, Transport, VectorClockJSON } from "./types.js";

/**
 * The part of a `Replica` that transports, the HTTP handler and `SyncManager` use. Any `Replica`
 * satisfies it; it is spelled out here so these modules depend on the surface, not the class.
 */
export interface SyncReplica {
  readonly nodeId: string;
  receive(events: readonly unknown[]): Promise<{ appended: string[]; duplicates: string[]; conflicts: readonly unknown[] }>;
  events(opts?: ReadOptions): Promise<ReadResult>;
  version(): Promise<VectorClockJSON>;
  subscribe(fn: (events: ReplicatedEvent[], cursor: Cursor) => void): () => void;
}

/** What a push answers: the transport contract's `AppendResult`, plus the conflicts the peer detected. */
export interface PushResult extends AppendResult {
  conflicts: unknown[];
}

/** Narrows a pull to some events; applied by the peer, so filtered-out events never travel. */
export interface PullFilter {
  aggregateIds?: string[];
  types?: string[];
  /** Leave out events created by this node (the puller's own events, which it already has). */
  excludeOrigin?: string;
}

/**
 * A `Transport` whose pull and stream also take a {@link PullFilter}. `HttpTransport` and
 * `LocalTransport` are; `SyncManager` passes the filter only to transports that say so.
 */
export interface FilteringTransport extends Transport {
  readonly supportsFilter: true;
  push(events: readonly ReplicatedEvent[], signal?: AbortSignal): Promise<PushResult>;
  pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult>;
  stream(since: Cursor, onEvents: (events: ReplicatedEvent[], cursor: Cursor) => void, signal: AbortSignal, filter?: PullFilter): Promise<void>;
}

/** Copies an event through JSON, as a network would, so two in-process replicas never share objects. */
function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function readOptions(since: Cursor, limit: number | undefined, filter: PullFilter | undefined): ReadOptions {
  const o: ReadOptions = { since };
  if (limit !== undefined) o.limit = limit;
  if (filter?.aggregateIds) o.aggregateIds = filter.aggregateIds;
  if (filter?.types) o.types = filter.types;
  if (filter?.excludeOrigin !== undefined) o.excludeOrigin = filter.excludeOrigin;
  return o;
}

/**
 * Stream loop shared by the HTTP handler and {@link LocalTransport}: sends everything after `since`,
 * then, each time the replica reports new events, reads on from where it left off. Reading the store
 * again (rather than forwarding the notification's events) keeps the stream gap-free and in store
 * order whatever the timing. `send` may return a promise to apply back-pressure. Resolves when
 * `signal` aborts.
 */
export async function streamFrom(
  replica: SyncReplica,
  since: Cursor,
  filter: PullFilter | undefined,
  pageSize: number,
  send: (events: ReplicatedEvent[], cursor: Cursor) => void | Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let cursor = since;
  let dirty = true;
  let wake: (() => void) | undefined;
  const unsubscribe = replica.subscribe(() => {
    dirty = true;
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal.aborted) {
      if (!dirty) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      dirty = false;
      for (;;) {
        const page = await replica.events(readOptions(cursor, pageSize, filter));
        if (signal.aborted) return;
        if (page.events.length > 0) await send(page.events, page.cursor);
        const moved = page.cursor !== cursor;
        cursor = page.cursor;
        if (page.events.length < pageSize && !(page.events.length === 0 && moved)) break;
      }
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * A `Transport` to a replica in the same process: what `HttpTransport` does, without the network.
 * Events are copied through JSON both ways. For tests, and for peers that share a process (a cache
 * replica beside a durable one).
 */
export class LocalTransport implements FilteringTransport {
  readonly supportsFilter = true as const;
  readonly #peer: SyncReplica;
  #closed = false;

  constructor(peer: SyncReplica) {
    this.#peer = peer;
  }

  #check(signal: AbortSignal | undefined): void {
    if (this.#closed) throw closedError("the LocalTransport");
    throwIfAborted(signal);
  }

  async push(events: readonly ReplicatedEvent[], signal?: AbortSignal): Promise<PushResult> {
    this.#check(signal);
    const r = await this.#peer.receive(copy(events));
    return { appended: r.appended, duplicates: r.duplicates, conflicts: copy([...r.conflicts]) };
  }

  async pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult> {
    this.#check(signal);
    return copy(await this.#peer.events(readOptions(since, limit, filter)));
  }

  async version(signal?: AbortSignal): Promise<VectorClockJSON> {
    this.#check(signal);
    return copy(await this.#peer.version());
  }

  async stream(since: Cursor, onEvents: (events: ReplicatedEvent[], cursor: Cursor) => void, signal: AbortSignal, filter?: PullFilter): Promise<void> {
    this.#check(signal);
    await streamFrom(this.#peer, since, filter, 1000, (events, cursor) => onEvents(copy(events), cursor), signal);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
