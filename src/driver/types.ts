/**
 * The Driver contract (DESIGN §2): a strongly consistent, versioned key-value space with leases and
 * ordered watch. It is the only thing an engine implements; every primitive is written over it.
 */

/** One stored key. `modRevision` is its version; `createRevision` is when this incarnation was created. */
export interface Entry {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  /** The lease the key is attached to, if any. */
  lease?: string | undefined;
}

/** A write that only happens if `key` is at exactly `version` (its modRevision), atomically with the write. */
export interface Guard {
  key: string;
  version: number;
}

export interface PutOptions {
  /** `0`: only if absent; `n`: only if the key's modRevision is `n`. */
  ifVersion?: number | undefined;
  lease?: string | undefined;
  guard?: Guard | undefined;
}

export interface DeleteOptions {
  ifVersion?: number | undefined;
  guard?: Guard | undefined;
}

/**
 * Outcome of a conditional write. On failure `current` is the entry as it is now (undefined if
 * absent); `guardFailed` says the guard key, not the target, was the reason.
 */
export type PutResult =
  | { ok: true; entry: Entry }
  | { ok: false; current: Entry | undefined; guardFailed?: boolean };

export type DeleteResult =
  | { ok: true; revision: number; previous: Entry }
  | { ok: false; current: Entry | undefined; guardFailed?: boolean };

export interface RangeOptions {
  limit?: number | undefined;
  /** Exclusive lower bound on the key, for paging. */
  startAfter?: string | undefined;
}

export interface RangeResult {
  entries: Entry[];
  /** The revision the range was read at. */
  revision: number;
  /** True when `limit` cut the result short. */
  more: boolean;
}

export interface Lease {
  id: string;
  /** The TTL the engine granted, which may exceed the one asked for. */
  ttlMs: number;
}

/** A change, in revision order. A put carries the new entry; a delete the key and the revision of the delete. */
export type WatchEvent =
  | { type: "put"; key: string; revision: number; entry: Entry }
  | { type: "delete"; key: string; revision: number };

export interface WatchOptions {
  /** Replay every change at or after this revision first; default: only changes after the call. */
  fromRevision?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface Driver extends AsyncDisposable {
  /** Engine name, for errors and logs: "memory", "sqlite", … */
  readonly engine: string;
  get(key: string, opts?: { signal?: AbortSignal }): Promise<Entry | undefined>;
  range(prefix: string, opts?: RangeOptions & { signal?: AbortSignal }): Promise<RangeResult>;
  put(key: string, value: Uint8Array, opts?: PutOptions & { signal?: AbortSignal }): Promise<PutResult>;
  delete(key: string, opts?: DeleteOptions & { signal?: AbortSignal }): Promise<DeleteResult>;
  /** Deletes every key under `prefix`; each deleted key is its own revision and its own watch event. */
  deletePrefix(prefix: string, opts?: { signal?: AbortSignal }): Promise<{ deleted: number; revision: number }>;
  /** The current revision of the keyspace. */
  revision(opts?: { signal?: AbortSignal }): Promise<number>;
  grantLease(ttlMs: number, opts?: { signal?: AbortSignal }): Promise<Lease>;
  /** Extends the lease by its TTL from now (engine clock); false once it has expired or been revoked. */
  keepAlive(id: string, opts?: { signal?: AbortSignal }): Promise<boolean>;
  /** Revokes the lease, deleting its keys (with events). Revoking an unknown lease is a no-op. */
  revokeLease(id: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Changes under `prefix` in revision order, no gap, no duplicate; throws `COMPACTED` if
   * `fromRevision` is older than the retained history. `break` (or the signal) ends it.
   */
  watch(prefix: string, opts?: WatchOptions): AsyncIterable<WatchEvent>;
  /** Drops history before `revision`; watches from before it then fail with `COMPACTED`. */
  compact(revision: number, opts?: { signal?: AbortSignal }): Promise<void>;
  /** How coarse `time()` is, in ms (default 1); etcd, read from an HTTP Date header, says 1000. */
  readonly timeResolutionMs?: number | undefined;
  /** The engine's clock in ms since the epoch. */
  time(opts?: { signal?: AbortSignal }): Promise<number>;
  /**
   * Optional: the engine's clock as of the moment this resolves, with its error, for an engine whose
   * clock the driver estimates itself (etcd: from the turn of its HTTP `Date` second) rather than
   * reads in one round trip.
   */
  timeSample?: ((opts?: { signal?: AbortSignal }) => Promise<{ ms: number; uncertaintyMs: number }>) | undefined;
  /** Idempotent. Every later call rejects with `CLOSED`. */
  close(): Promise<void>;
  /**
   * Optional acceleration: treats the value as the decimal text of a safe integer (absent = 0),
   * adds `delta` and writes the sum, atomically and in one round trip; returns the new entry.
   * Rejects with `CORRUPT` (nothing written) if the stored value is not such an integer.
   */
  increment?: ((key: string, delta: number, opts?: { signal?: AbortSignal }) => Promise<Entry>) | undefined;
  /**
   * Optional acceleration: `put`, then `range(prefix)` read in the same atomic step (one round trip
   * where the engine allows; an etcd txn does it). Means exactly what the two calls in a row mean.
   */
  putAndRange?:
    | ((
        key: string,
        value: Uint8Array,
        opts: PutOptions & { signal?: AbortSignal },
        prefix: string,
      ) => Promise<{ put: PutResult; range: RangeResult }>)
    | undefined;
  /**
   * Optional acceleration: puts and deletes applied all or none, in one atomic step. Every condition
   * (ifVersion, lease, guard) is judged first; if one fails nothing is written and the result names
   * that op; else the ops apply in order, each with a revision of its own and its own watch event,
   * exactly as the same calls in a row would have (no op may name a key, as its key or its guard,
   * that an earlier op of the batch writes).
   */
  batch?: ((ops: BatchOp[], opts?: { signal?: AbortSignal }) => Promise<BatchResult>) | undefined;
}

/** The most ops one {@link Driver.batch} may carry. */
export const MAX_BATCH_OPS = 64;

/** One write of a {@link Driver.batch}. */
export type BatchOp =
  | ({ type: "put"; key: string; value: Uint8Array } & PutOptions)
  | ({ type: "delete"; key: string } & DeleteOptions);
/** Every op's result, in order; or the index of the first op whose condition failed and its result (nothing written). */
export type BatchResult =
  | { ok: true; results: Array<PutResult | DeleteResult> }
  | { ok: false; failed: number; result: PutResult | DeleteResult };
