import type { DeleteResult, Entry, PutResult, RangeResult, WatchEvent } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";
import type { Reply } from "./scripts.js";

// Decoders for the replies of scripts/*.lua. Strings arrive as Buffers (values are bytes); numbers
// go through Number() so a client configured with stringNumbers still reads right.

function corrupt(what: string): ConcordError {
  return new ConcordError("CORRUPT", `redis: unexpected reply to ${what}; is another program writing to the keyspace?`, {
    engine: "redis",
  });
}

function list(r: Reply, what: string): Reply[] {
  if (!Array.isArray(r)) throw corrupt(what);
  return r;
}

function text(r: Reply | undefined): string {
  return Buffer.isBuffer(r) ? r.toString("utf8") : String(r);
}

function bytes(r: Reply | undefined): Uint8Array {
  // A copy: the caller owns it, and ioredis may hand out views of a larger buffer.
  return Buffer.isBuffer(r) ? new Uint8Array(r) : new Uint8Array();
}

/** `{key, value, createRevision, modRevision, lease or ''}`, or `{}` for an absent key. */
export function toEntry(r: Reply | undefined, what = "an entry"): Entry | undefined {
  const f = list(r ?? null, what);
  if (f.length === 0) return undefined;
  const lease = text(f[4]);
  return {
    key: text(f[0]),
    value: bytes(f[1]),
    createRevision: Number(f[2]),
    modRevision: Number(f[3]),
    lease: lease === "" ? undefined : lease,
  };
}

/** See scripts/put.lua. Throws `NOT_HELD` when the lease has expired or is unknown. */
export function toPutResult(r: Reply, key: string, value: Uint8Array, lease: string | undefined): PutResult {
  const f = list(r, "put");
  const code = Number(f[0]);
  if (code === 1) {
    const entry = { key, value: value.slice(), createRevision: Number(f[1]), modRevision: Number(f[2]), lease };
    return { ok: true, entry };
  }
  if (code === 3) throw new ConcordError("NOT_HELD", `lease ${lease} has expired or was revoked`, { engine: "redis" });
  const current = toEntry(f[1], "put");
  return code === 2 ? { ok: false, current, guardFailed: true } : { ok: false, current };
}

/** See scripts/delete.lua. */
export function toDeleteResult(r: Reply): DeleteResult {
  const f = list(r, "delete");
  const code = Number(f[0]);
  if (code === 1) {
    const previous = toEntry(f[2], "delete");
    if (!previous) throw corrupt("delete");
    return { ok: true, revision: Number(f[1]), previous };
  }
  const current = toEntry(f[1], "delete");
  return code === 2 ? { ok: false, current, guardFailed: true } : { ok: false, current };
}

/** `{revision, more, entry...}`, see `range` in scripts/lib.lua. */
export function toRangeResult(r: Reply): RangeResult {
  const f = list(r, "range");
  const entries = f.slice(2).map((e) => toEntry(e, "range")).filter((e): e is Entry => e !== undefined);
  return { entries, revision: Number(f[0]), more: Number(f[1]) === 1 };
}

/** What scripts/changes.lua found. */
export type Changes =
  | { compacted: false; revision: number; scannedTo: number; events: WatchEvent[] }
  | { compacted: true; revision: number; firstKept: number };

function toEvent(r: Reply): WatchEvent {
  const f = list(r, "changes");
  const revision = Number(f[0]);
  const key = text(f[2]);
  if (text(f[1]) === "d") return { type: "delete", key, revision };
  const lease = text(f[5]);
  const entry = { key, value: bytes(f[3]), createRevision: Number(f[4]), modRevision: revision, lease: lease === "" ? undefined : lease };
  return { type: "put", key, revision, entry };
}

export function toChanges(r: Reply): Changes {
  const f = list(r, "changes");
  if (Number(f[0]) === 1) return { compacted: true, revision: Number(f[1]), firstKept: Number(f[2]) };
  return { compacted: false, revision: Number(f[1]), scannedTo: Number(f[2]), events: list(f[3] ?? null, "changes").map(toEvent) };
}
