import { invalid } from "../../errors.js";

/** The keyspace a driver uses when none is named. */
export const DEFAULT_KEYSPACE = "concord";

/**
 * Where a keyspace lives in Redis. Every key starts with `base`, whose `{…}` hash tag puts them all
 * in one cluster slot, as Lua scripts touching several keys need. The names below must match
 * scripts/lib.lua, which derives every other key from `base`.
 */
export interface KeyspaceKeys {
  /** Passed to every script as KEYS[1]. */
  readonly base: string;
  /** The revision counter. */
  readonly rev: string;
  /** The change stream, one entry per revision, ID `<revision>-0`. */
  readonly log: string;
  /** The pub/sub channel every change is published on (not a key: a client's keyPrefix does not apply). */
  readonly changes: string;
  /** A SCAN pattern matching every key of the keyspace (its name has no glob characters). */
  readonly pattern: string;
}

// Braces would break the hash tag, glob characters the cleanup pattern.
// eslint-disable-next-line no-control-regex
const BAD = /[\u0000-\u001f\u007f{}*?[\]\\]/;

/** Validates a keyspace name and derives its Redis key names. */
export function keyspaceKeys(keyspace: string): KeyspaceKeys {
  if (typeof keyspace !== "string" || keyspace.length === 0 || keyspace.length > 200) {
    throw invalid("keyspace", "expected a name of 1 to 200 characters");
  }
  if (BAD.test(keyspace)) throw invalid("keyspace", "must not contain braces, glob characters ([]*?\\) or control characters");
  const base = `concord:{${keyspace}}`;
  return { base, rev: `${base}:rev`, log: `${base}:log`, changes: `${base}:changes`, pattern: `${base}:*` };
}
