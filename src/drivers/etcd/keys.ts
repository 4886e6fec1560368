import type { IKeyValue } from "etcd3";
import type { Entry } from "../../driver/types.js";
import { invalid } from "../../errors.js";

/** The longest keyspace name, so that a prefixed key stays well inside etcd's request limits. */
export const MAX_KEYSPACE_LENGTH = 256;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The smallest byte string greater than every string starting with `prefix` (etcd's range_end for a
 * prefix scan). A prefix of only 0xff bytes has no such bound: `\0` asks etcd for "to the end".
 */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * A driver's share of an etcd cluster: every key is stored as `keyspace + "/" + key` and stripped
 * on the way out, so several drivers (tests, tenants) share one cluster without seeing each other.
 * An empty keyspace stores keys as they are. Keys are UTF-8, so ranges are ordered by code point.
 *
 * A named keyspace also has a head key, `keyspace + "/"` itself (the contract's empty key, which no
 * caller can use): every write of the driver touches it in the same txn, so its modRevision is the
 * keyspace's own revision and its createRevision the keyspace's first write. It is hidden from
 * ranges and watches.
 */
export class Keyspace {
  readonly name: string;
  readonly #prefix: Buffer;

  constructor(name: string) {
    if (typeof name !== "string") throw invalid("keyspace", `expected a string, got ${typeof name}`);
    if (name.length > MAX_KEYSPACE_LENGTH) throw invalid("keyspace", `is ${name.length} characters long; the limit is ${MAX_KEYSPACE_LENGTH}`);
    if (CONTROL.test(name)) throw invalid("keyspace", "must not contain control characters");
    this.name = name;
    this.#prefix = Buffer.from(name === "" ? "" : `${name}/`, "utf8");
  }

  /** The head key, or undefined for the unnamed keyspace (which is the whole cluster). */
  get head(): Buffer | undefined {
    return this.#prefix.length === 0 ? undefined : this.#prefix;
  }

  /** The stored form of `key`. */
  key(key: string): Buffer {
    return Buffer.concat([this.#prefix, Buffer.from(key, "utf8")]);
  }

  /** The contract's key for a stored one. */
  strip(stored: Uint8Array): string {
    return Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).subarray(this.#prefix.length).toString("utf8");
  }

  /**
   * The etcd range `[key, range_end)` of every key under `prefix`, starting after `startAfter` if
   * given. etcd refuses an empty key, so "everything" (no keyspace, no prefix) is `\0`..`\0`.
   */
  range(prefix: string, startAfter?: string): { key: Buffer; range_end: Buffer } {
    const start = this.key(prefix);
    const range_end = prefixEnd(start);
    // Starting one byte past the bare prefix skips the head key when the prefix is empty.
    let key = start.length === 0 || start.equals(this.#prefix) ? Buffer.concat([start, Buffer.from([0])]) : start;
    if (startAfter !== undefined) {
      // startAfter + "\0" is the very next key in byte order; below the prefix it changes nothing.
      const after = Buffer.concat([this.key(startAfter), Buffer.from([0])]);
      if (Buffer.compare(after, key) > 0) key = after;
    }
    return { key, range_end };
  }

  /** An etcd key-value as a contract entry: revisions as numbers, lease "0" as none, value copied. */
  entry(kv: IKeyValue): Entry {
    return {
      key: this.strip(kv.key),
      value: new Uint8Array(kv.value ?? []),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      lease: kv.lease === undefined || kv.lease === "0" ? undefined : kv.lease,
    };
  }
}
