import type { Etcd3, ITxnRequest, ITxnResponse } from "etcd3";
import type {
  DeleteOptions,
  DeleteResult,
  Driver,
  Entry,
  Lease,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  WatchEvent,
  WatchOptions,
} from "../../driver/types.js";
import { ConcordError } from "../../errors.js";
import { abortableIterable } from "../../internal/stream.js";
import { Calls } from "./calls.js";
import { grpcStatus, Status } from "./errors.js";
import type { Keyspace } from "./keys.js";
import { isLeaseId, Leases } from "./leases.js";
import { MemberClocks, type TimeTls } from "./server-time.js";
import {
  compares,
  deleteSuccess,
  failure,
  failureReads,
  headRead,
  headTouch,
  keyspaceRevision,
  prefixRead,
  putSuccess,
  txnRange,
} from "./txn.js";
import { watchEvents } from "./watch.js";

type Sig = { signal?: AbortSignal | undefined };

/** Everything the driver is built from; see `createEtcdDriver` for the public options. */
export interface EtcdDriverConfig {
  client: Etcd3;
  /** Whether `close()` closes the client (not when the user passed their own). */
  ownsClient: boolean;
  keys: Keyspace;
  /** Member URLs for `time()`; discovered from the member list when not given. */
  endpoints: string[] | undefined;
  tls: TimeTls | undefined;
  callTimeoutMs: number;
}

/** Keys fetched per page by `deletePrefix`. */
const PAGE = 500;

function notHeld(lease: string): ConcordError {
  return new ConcordError("NOT_HELD", `lease ${lease} has expired or was revoked`, { engine: "etcd" });
}

/** The Driver contract over etcd v3: native revisions, txns for every conditional write, leases, watch. */
export class EtcdDriver implements Driver {
  readonly engine = "etcd";
  readonly #client: Etcd3;
  readonly #config: EtcdDriverConfig;
  readonly #keys: Keyspace;
  readonly #leases: Leases;
  readonly #closed = new AbortController();
  readonly #label: string;
  readonly #calls: Calls;
  readonly #clocks: MemberClocks;

  constructor(config: EtcdDriverConfig) {
    this.#config = config;
    this.#client = config.client;
    this.#keys = config.keys;
    this.#label = config.endpoints?.map((e) => new URL(e).host).join(",") ?? "the client's endpoints";
    this.#calls = new Calls(this.#label, this.#closed.signal, () => this.#createHead());
    this.#leases = new Leases(config.client, this.#calls, config.keys, config.callTimeoutMs);
    const discover = async (): Promise<string[]> =>
      (await this.#call(() => this.#client.cluster.memberList({}), true, undefined)).members.flatMap((m) => m.clientURLs);
    this.#clocks = new MemberClocks(config.endpoints, discover, config.tls, config.callTimeoutMs, this.#label, this.#closed.signal);
  }

  #call<T>(fn: () => Promise<T>, idempotent: boolean, signal: AbortSignal | undefined): Promise<T> {
    return this.#calls.run(fn, idempotent, signal);
  }

  /**
   * Writes the head key if the keyspace has none, so that a new keyspace's revision is its birth
   * (a watch "from now" then starts there, not at revision 1 of the whole cluster). A user whose
   * role may not write there still gets a working, read-only driver.
   */
  async #createHead(): Promise<void> {
    const head = this.#keys.head;
    if (head === undefined) return;
    const req: ITxnRequest = {
      compare: [{ key: head, target: "Create", result: "Equal", create_revision: 0 }],
      success: headTouch(this.#keys),
    };
    try {
      await this.#calls.attempt(() => this.#client.kv.txn(req), true, undefined);
    } catch (e) {
      if (grpcStatus((e as { cause?: unknown }).cause) !== Status.PERMISSION_DENIED) throw e;
    }
  }

  #txn(req: ITxnRequest, signal: AbortSignal | undefined, lease: string | undefined): Promise<ITxnResponse> {
    const run = async (): Promise<ITxnResponse> => {
      try {
        return await this.#client.kv.txn(req);
      } catch (e) {
        // NOT_FOUND from a txn that writes with a lease can only be that lease (checked by status, not text).
        if (lease !== undefined && grpcStatus(e) === Status.NOT_FOUND) throw notHeld(lease);
        throw e;
      }
    };
    return this.#call(run, false, signal);
  }

  async get(key: string, opts: Sig = {}): Promise<Entry | undefined> {
    const res = await this.#call(() => this.#client.kv.range({ key: this.#keys.key(key) }), true, opts.signal);
    const kv = res.kvs[0];
    return kv ? this.#keys.entry(kv) : undefined;
  }

  /** Keys under `prefix` and the keyspace revision, read in one txn so the two agree. */
  async range(prefix: string, opts: RangeOptions & Sig = {}): Promise<RangeResult> {
    const read = { ...this.#keys.range(prefix, opts.startAfter), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) };
    const res = await this.#call(() => this.#client.kv.txn({ success: [{ request_range: read }, ...headRead(this.#keys)] }), true, opts.signal);
    return txnRange(this.#keys, res, 0, keyspaceRevision(this.#keys, res.responses[1]?.response_range, res.header));
  }

  #putRequest(key: string, value: Uint8Array, opts: PutOptions, prefix: string | undefined): ITxnRequest {
    // Copied now: the request is encoded later, and the caller may reuse its buffer at once. The
    // previous value gives an overwritten key's createRevision; a create (ifVersion 0) has none.
    const put = {
      key: this.#keys.key(key),
      value: Buffer.from(value),
      ...(opts.ifVersion === 0 ? {} : { prev_kv: true }),
      ...(opts.lease !== undefined ? { lease: opts.lease } : {}),
    };
    const reads = failureReads(this.#keys, key, opts.guard);
    const write = [{ request_put: put }, ...headTouch(this.#keys)];
    return {
      compare: compares(this.#keys, key, opts, false),
      success: prefix === undefined ? write : [...write, prefixRead(this.#keys, prefix)],
      failure: prefix === undefined ? reads : [...reads, prefixRead(this.#keys, prefix), ...headRead(this.#keys)],
    };
  }

  async put(key: string, value: Uint8Array, opts: PutOptions & Sig = {}): Promise<PutResult> {
    if (opts.lease !== undefined && !isLeaseId(opts.lease)) throw notHeld(opts.lease);
    const res = await this.#txn(this.#putRequest(key, value, opts, undefined), opts.signal, opts.lease);
    return res.succeeded ? putSuccess(res, key, value, opts.lease) : failure(this.#keys, res, opts.guard);
  }

  /** `put`, then the range of `prefix` as it is right after, in one txn: one round trip, one revision. */
  async putAndRange(
    key: string,
    value: Uint8Array,
    opts: PutOptions & Sig,
    prefix: string,
  ): Promise<{ put: PutResult; range: RangeResult }> {
    if (opts.lease !== undefined && !isLeaseId(opts.lease)) throw notHeld(opts.lease);
    const res = await this.#txn(this.#putRequest(key, value, opts, prefix), opts.signal, opts.lease);
    if (res.succeeded) {
      const at = 1 + headTouch(this.#keys).length;
      return { put: putSuccess(res, key, value, opts.lease), range: txnRange(this.#keys, res, at, Number(res.header.revision)) };
    }
    const at = opts.guard === undefined ? 1 : 2;
    const revision = keyspaceRevision(this.#keys, res.responses[at + 1]?.response_range, res.header);
    return { put: failure(this.#keys, res, opts.guard), range: txnRange(this.#keys, res, at, revision) };
  }

  async delete(key: string, opts: DeleteOptions & Sig = {}): Promise<DeleteResult> {
    const req: ITxnRequest = {
      compare: compares(this.#keys, key, opts, true),
      success: [{ request_delete_range: { key: this.#keys.key(key), prev_kv: true } }, ...headTouch(this.#keys)],
      failure: failureReads(this.#keys, key, opts.guard),
    };
    const res = await this.#txn(req, opts.signal, undefined);
    return res.succeeded ? deleteSuccess(this.#keys, res) : failure(this.#keys, res, opts.guard);
  }

  /**
   * Deletes the keys under `prefix` one by one, in key order: the contract wants a revision and an
   * event per key, and one etcd DeleteRange would give them all the same revision. Not atomic: a
   * key created under the prefix meanwhile may survive.
   */
  async deletePrefix(prefix: string, opts: Sig = {}): Promise<{ deleted: number; revision: number }> {
    let deleted = 0;
    let revision = 0;
    let startAfter: string | undefined;
    for (;;) {
      const req = { ...this.#keys.range(prefix, startAfter), limit: PAGE, keys_only: true };
      const page = await this.#call(() => this.#client.kv.range(req), true, opts.signal);
      for (const kv of page.kvs) {
        // Only if still there: deleting nothing must not move the keyspace's revision.
        const del: ITxnRequest = {
          compare: [{ key: kv.key, target: "Create", result: "Greater", create_revision: 0 }],
          success: [{ request_delete_range: { key: kv.key } }, ...headTouch(this.#keys)],
        };
        const res = await this.#call(() => this.#client.kv.txn(del), false, opts.signal);
        if (res.succeeded) {
          deleted++;
          revision = Number(res.header.revision);
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      startAfter = this.#keys.strip(page.kvs[page.kvs.length - 1]!.key);
    }
    return { deleted, revision: deleted > 0 ? revision : await this.revision(opts) };
  }

  /**
   * The keyspace's revision: that of its last write (by any driver) or lease revocation. A lease
   * that expires on the server deletes its keys at revisions this does not count until the next
   * write, so a watch from `revision() + 1` may replay those deletes of keys already absent. The
   * unnamed keyspace is the whole cluster, and has the cluster's revision.
   */
  async revision(opts: Sig = {}): Promise<number> {
    const head = this.#keys.head;
    const res = await this.#call(() => this.#client.kv.range({ key: head ?? Buffer.from([0]), keys_only: true }), true, opts.signal);
    return keyspaceRevision(this.#keys, res, res.header);
  }

  /** The earliest revision an event of this keyspace can have: its head's creation (see Keyspace). */
  async #firstRevision(): Promise<number> {
    const head = this.#keys.head;
    if (head === undefined) return 1;
    const res = await this.#call(() => this.#client.kv.range({ key: head, keys_only: true }), true, undefined);
    const kv = res.kvs[0];
    return kv ? Number(kv.create_revision) : Number(res.header.revision) + 1;
  }

  /** etcd TTLs are whole seconds: asks for `ceil(ttlMs / 1000)` s and reports what etcd granted. */
  grantLease(ttlMs: number, opts: Sig = {}): Promise<Lease> {
    return this.#leases.grant(ttlMs, opts.signal);
  }

  /** One LeaseKeepAlive round trip; false once etcd reports no time left (expired or revoked). */
  keepAlive(id: string, opts: Sig = {}): Promise<boolean> {
    return this.#leases.keepAlive(id, opts.signal);
  }

  /** Revokes the lease; etcd deletes its keys in one revision, each with a delete event. */
  revokeLease(id: string, opts: Sig = {}): Promise<void> {
    return this.#leases.revoke(id, opts.signal);
  }

  /**
   * etcd compaction (logical; etcd reclaims the space itself), up to the cluster's head at most.
   * etcd has one history for the whole cluster, so this drops every keyspace's history before
   * `revision`, not only this one's; a keyspace created since loses nothing (see `watch`).
   */
  async compact(revision: number, opts: Sig = {}): Promise<void> {
    if (revision <= 1) return;
    const compactTo = async (rev: number): Promise<boolean> => {
      try {
        await this.#client.kv.compact({ revision: rev });
        return true;
      } catch (e) {
        // OUT_OF_RANGE: already compacted past it (nothing to do), or a future revision.
        if (grpcStatus(e) === Status.OUT_OF_RANGE) return false;
        throw e;
      }
    };
    if (await this.#call(() => compactTo(revision), true, opts.signal)) return;
    // Compaction is of the whole cluster, so "the head" here is the cluster's revision.
    const res = await this.#call(() => this.#client.kv.range({ key: Buffer.from([0]), keys_only: true }), true, opts.signal);
    const head = Number(res.header.revision);
    if (revision > head) await this.#call(() => compactTo(head), true, opts.signal);
  }

  /**
   * The clock of an etcd member. etcd has no clock API and its HTTP `Date` header reads whole
   * seconds, so the driver finds when the member's second turns (see `calibrate`), to within two
   * round trips, and then reads the local monotonic clock: ms-precise, with its error in
   * {@link timeSample}. Members are asked in turn; the first that answers is used.
   */
  async time(opts: Sig = {}): Promise<number> {
    return this.#clocks.now(opts.signal);
  }

  timeSample(opts: Sig = {}): Promise<{ ms: number; uncertaintyMs: number }> {
    return this.#clocks.sample(opts.signal);
  }
  /** Starts from the revision after the current one, read now; later calls of this driver wait for that read. */
  #startNow(): Promise<number> {
    const start = this.revision().then((r) => r + 1);
    start.catch(() => undefined); // reported to whoever iterates the watch
    this.#calls.holdUntil(start);
    return start;
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    // Read at the call, not at the first next(): "changes after the call" includes this driver's
    // own writes made right after it, which a later read could already count as history.
    const start = opts.fromRevision === undefined ? this.#startNow() : Promise.resolve(Math.max(1, opts.fromRevision));
    const src = { client: this.#client, keys: this.#keys, endpoints: this.#label, firstRevision: () => this.#firstRevision() };
    return abortableIterable([this.#closed.signal, opts.signal], (signal) => watchEvents(src, prefix, start, signal));
  }

  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#leases.close();
    if (this.#config.ownsClient) this.#client.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
