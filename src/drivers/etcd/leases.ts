import type { Etcd3 } from "etcd3";
import type { Lease } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";
import type { Calls } from "./calls.js";
import { grpcStatus, Status } from "./errors.js";
import { KeepAliveStream } from "./keep-alive.js";
import type { Keyspace } from "./keys.js";
import { headTouch } from "./txn.js";

/** etcd lease ids are int64s, carried as decimal strings; anything else names no lease. */
const LEASE_ID = /^[1-9][0-9]{0,18}$/;
/** How long a renewal of a lease granted elsewhere (TTL unknown) may take before it is retried. */
const RENEW_TIMEOUT_MS = 2000;

/** True if `id` can name an etcd lease; any other string names none (expired, as far as callers care). */
export function isLeaseId(id: string): boolean {
  return LEASE_ID.test(id);
}

/**
 * etcd leases: whole seconds, judged by the leader's clock. A revocation (or expiry) deletes the
 * lease's keys in one revision, each with its own delete event.
 */
export class Leases {
  readonly #client: Etcd3;
  readonly #calls: Calls;
  readonly #keys: Keyspace;
  readonly #callTimeoutMs: number;
  readonly #stream: KeepAliveStream;
  /** TTLs of the leases this driver granted, to time their renewals. */
  readonly #ttls = new Map<string, number>();

  constructor(client: Etcd3, calls: Calls, keys: Keyspace, callTimeoutMs: number) {
    this.#client = client;
    this.#calls = calls;
    this.#keys = keys;
    this.#callTimeoutMs = callTimeoutMs;
    this.#stream = new KeepAliveStream(client);
  }

  /** Asks for `ceil(ttlMs / 1000)` s and reports what etcd granted, which may be more. */
  async grant(ttlMs: number, signal: AbortSignal | undefined): Promise<Lease> {
    // Repeatable: a grant whose answer was lost leaves a lease nobody renews, which expires alone.
    const res = await this.#calls.run(() => this.#client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000) }), true, signal);
    if (res.error) throw new ConcordError("UNAVAILABLE", `etcd refused a lease of ${ttlMs} ms: ${res.error}`, { engine: "etcd" });
    const granted = Number(res.TTL) * 1000;
    this.#ttls.set(res.ID, granted);
    return { id: res.ID, ttlMs: granted };
  }

  /**
   * One LeaseKeepAlive round trip; false once etcd reports no time left. A renewal unanswered
   * within a quarter of the lease's TTL is tried again on another member: a hung member must not
   * hold it until the lease has run out.
   */
  async keepAlive(id: string, signal: AbortSignal | undefined): Promise<boolean> {
    if (!isLeaseId(id)) return false;
    const ttl = this.#ttls.get(id);
    const timeoutMs = Math.min(this.#callTimeoutMs, ttl === undefined ? RENEW_TIMEOUT_MS : Math.max(250, Math.floor(ttl / 4)));
    const alive = (await this.#calls.run(() => this.#stream.renew(id, timeoutMs), true, signal)) > 0;
    if (!alive) this.#ttls.delete(id);
    return alive;
  }

  /** Revokes the lease, deleting its keys; an unknown lease is a no-op. */
  async revoke(id: string, signal: AbortSignal | undefined): Promise<void> {
    if (!isLeaseId(id)) return;
    this.#ttls.delete(id);
    const revoke = (): Promise<void> =>
      this.#client.leaseClient.leaseRevoke({ ID: id }).then(
        () => undefined,
        (e: unknown) => {
          if (grpcStatus(e) !== Status.NOT_FOUND) throw e;
        },
      );
    await this.#calls.run(revoke, true, signal);
    // The revocation deleted keys at a revision of its own: make the keyspace's revision cover it.
    const touch = headTouch(this.#keys);
    if (touch.length > 0) await this.#calls.run(() => this.#client.kv.txn({ success: touch }), true, signal);
  }

  close(): void {
    this.#stream.close();
  }
}
