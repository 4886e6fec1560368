/**
 * The replication contract (DESIGN §6): the event shape, the EventStore every store implements
 * (memory, SQLite, PostgreSQL; one conformance suite), and the Transport every transport implements
 * (HTTP push/pull/stream; any other transport implements the same interface).
 *
 * Replication depends on this contract only, never on one engine or on the Driver contract.
 */

/** A vector clock as it travels and is stored: node id -> count of that node's events seen. */
export type VectorClockJSON = Record<string, number>;

/** Anything JSON can carry. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An event as a caller hands it to `Replica.append`: the rest is filled in. */
export interface NewEvent<D = Json> {
  type: string;
  aggregateId: string;
  data: D;
  metadata?: Record<string, Json>;
  /** Given by the caller to make the append idempotent; a random UUID otherwise. */
  id?: string;
}

/**
 * An event once appended. `id`, `origin`, `clock` and `hlc` are fixed by the replica that created it
 * and kept everywhere it is copied.
 */
export interface ReplicatedEvent<D = Json> {
  id: string;
  type: string;
  aggregateId: string;
  data: D;
  metadata: Record<string, Json>;
  /** The node id of the replica that created the event. */
  origin: string;
  /** The creating replica's vector clock after this event (its own entry counts this event). */
  clock: VectorClockJSON;
  /** Hybrid logical time of creation, `HybridLogicalClock.encode` form: sorts as it orders; for last-writer-wins. */
  hlc: string;
}

/**
 * A position in one store's own append order (opaque to callers; a decimal sequence in every store
 * here). `""` or absent means "from the beginning".
 */
export type Cursor = string;

export interface ReadOptions {
  /** Events appended after this cursor. */
  since?: Cursor;
  /** At most this many events (default 1000). */
  limit?: number;
  /** Only events of these aggregates / types / origins. */
  aggregateIds?: string[];
  types?: string[];
  /** Leave out events created by this node (a peer asking for what it lacks). */
  excludeOrigin?: string;
}

export interface ReadResult<D = Json> {
  events: ReplicatedEvent<D>[];
  /** Pass as `since` to continue; equal to `since` when nothing new. */
  cursor: Cursor;
}

export interface AppendResult {
  /** Ids newly stored by this call, in append order. */
  appended: string[];
  /** Ids already present with identical content (idempotent re-delivery). */
  duplicates: string[];
}

/**
 * One node's durable, append-only event log. Append is atomic per call and idempotent by `id`: an
 * event already present with identical content is a duplicate; one with the same id and different
 * content rejects the whole call with `INVALID_ARGUMENT` (reason `"conflict"` in the message, see
 * `isIdCollision`) and stores nothing from it.
 */
export interface EventStore {
  append(events: readonly ReplicatedEvent[]): Promise<AppendResult>;
  read(opts?: ReadOptions): Promise<ReadResult>;
  /** Every event of one aggregate, in this store's append order. */
  byAggregate(aggregateId: string): Promise<ReplicatedEvent[]>;
  get(id: string): Promise<ReplicatedEvent | undefined>;
  has(ids: readonly string[]): Promise<Set<string>>;
  /** The merge of the clocks of every stored event: what this store has seen. */
  version(): Promise<VectorClockJSON>;
  /** The cursor after the last stored event. */
  head(): Promise<Cursor>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** What one side of an exchange offers the other; `HttpTransport` is one, an in-process pair another. */
export interface Transport {
  /** Sends events to the peer; resolves with what it stored and what it already had. */
  push(events: readonly ReplicatedEvent[], signal?: AbortSignal): Promise<AppendResult>;
  /** Events the peer appended after `since`, oldest first, at most `limit`. */
  pull(since: Cursor, limit: number, signal?: AbortSignal): Promise<ReadResult>;
  /** The peer's version vector, so a push can send only what the peer lacks. */
  version(signal?: AbortSignal): Promise<VectorClockJSON>;
  /** Live: calls `onEvents` for events the peer appends after `since` until the signal aborts. */
  stream?(since: Cursor, onEvents: (events: ReplicatedEvent[], cursor: Cursor) => void, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}
