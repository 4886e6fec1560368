import type { ICompare, IRangeResponse, IRequestOp, IResponseHeader, ITxnResponse } from "etcd3";
import type { DeleteResult, Entry, Guard, PutResult, RangeResult } from "../../driver/types.js";
import type { Keyspace } from "./keys.js";

/**
 * The one-round-trip transactions behind a conditional write: the compares, then on success the
 * write, and on failure a read of what made it fail, so the caller learns `current` without a
 * second request (which could already see a newer state).
 */

export interface Conditions {
  ifVersion?: number | undefined;
  guard?: Guard | undefined;
}

/** The compares of a write to `key`; `mustExist` for a delete, which fails on an absent key. */
export function compares(ks: Keyspace, key: string, c: Conditions, mustExist: boolean): ICompare[] {
  const k = ks.key(key);
  const out: ICompare[] = [];
  if (mustExist) out.push({ key: k, target: "Create", result: "Greater", create_revision: 0 });
  // etcd compares an absent key as if its revisions were 0: create == 0 is "absent", mod == n fails.
  if (c.ifVersion === 0) out.push({ key: k, target: "Create", result: "Equal", create_revision: 0 });
  else if (c.ifVersion !== undefined) out.push({ key: k, target: "Mod", result: "Equal", mod_revision: c.ifVersion });
  if (c.guard !== undefined) {
    const g = ks.key(c.guard.key);
    // An absent guard key is at no version (as on every engine); etcd would match it to version 0.
    if (c.guard.version === 0) out.push({ key: g, target: "Create", result: "Less", create_revision: 0 });
    else out.push({ key: g, target: "Mod", result: "Equal", mod_revision: c.guard.version });
  }
  return out;
}

/** The reads of the failure branch: the target, then the guard key if any. */
export function failureReads(ks: Keyspace, key: string, guard: Guard | undefined): IRequestOp[] {
  const ops: IRequestOp[] = [{ request_range: { key: ks.key(key) } }];
  if (guard !== undefined) ops.push({ request_range: { key: ks.key(guard.key) } });
  return ops;
}

/** Touches the keyspace's head key, so that its modRevision is the revision of this write. */
export function headTouch(ks: Keyspace): IRequestOp[] {
  const head = ks.head;
  return head ? [{ request_put: { key: head, value: Buffer.alloc(0) } }] : [];
}

/** Reads the head key (nothing for the unnamed keyspace, whose revision is the cluster's). */
export function headRead(ks: Keyspace): IRequestOp[] {
  const head = ks.head;
  return head ? [{ request_range: { key: head } }] : [];
}

/**
 * The keyspace's revision: its head's modRevision (0 before its first write), or for the unnamed
 * keyspace the cluster's revision in `header`.
 */
export function keyspaceRevision(ks: Keyspace, head: IRangeResponse | undefined, header: IResponseHeader): number {
  if (ks.head === undefined) return Number(header.revision);
  const kv = head?.kvs[0];
  return kv ? Number(kv.mod_revision) : 0;
}

/** A range of everything under `prefix`, in key order (etcd's default). */
export function prefixRead(ks: Keyspace, prefix: string): IRequestOp {
  return { request_range: ks.range(prefix) };
}

export function rangeAt(res: ITxnResponse, i: number): IRangeResponse {
  const r = res.responses[i]?.response_range;
  if (!r) throw new Error(`etcd txn answered without a range response at ${i}`);
  return r;
}

/** The outcome of a failed conditional write, read from the failure branch. */
export function failure(ks: Keyspace, res: ITxnResponse, guard: Guard | undefined): { ok: false; current: Entry | undefined; guardFailed?: boolean } {
  const kv = rangeAt(res, 0).kvs[0];
  const current = kv ? ks.entry(kv) : undefined;
  if (guard !== undefined) {
    const g = rangeAt(res, 1).kvs[0];
    // Checked first, as every engine does: a stale fence is reported as such even if the target also moved.
    if (g === undefined || Number(g.mod_revision) !== guard.version) return { ok: false, current, guardFailed: true };
  }
  return { ok: false, current };
}

/** The entry a successful put wrote, from the txn header and the previous key-value. */
export function putSuccess(res: ITxnResponse, key: string, value: Uint8Array, lease: string | undefined): PutResult {
  const rev = Number(res.header.revision);
  const prev = res.responses[0]?.response_put?.prev_kv;
  return {
    ok: true,
    entry: {
      key,
      value: value.slice(),
      createRevision: prev ? Number(prev.create_revision) : rev,
      modRevision: rev,
      lease,
    },
  };
}

/** The outcome of a successful delete txn. */
export function deleteSuccess(ks: Keyspace, res: ITxnResponse): DeleteResult {
  const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
  if (!prev) throw new Error("etcd txn deleted a key it had just seen but returned no previous value");
  return { ok: true, revision: Number(res.header.revision), previous: ks.entry(prev) };
}

/** The range response at position `i` of a txn as the contract's result, read at `revision`. */
export function txnRange(ks: Keyspace, res: ITxnResponse, i: number, revision: number): RangeResult {
  const r = rangeAt(res, i);
  // `more` is etcd's own "the limit cut it short".
  return { entries: r.kvs.map((kv) => ks.entry(kv)), revision, more: r.more };
}
