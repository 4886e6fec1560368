import { invalid } from "../../errors.js";

/** A connection URL taken apart: what ioredis gets, and what Concord keeps for itself. */
export interface RedisUrl {
  /** The URL for ioredis, without Concord's own parameters. */
  readonly connect: string;
  /** `?keyspace=NAME`, if given. */
  readonly keyspace: string | undefined;
  /** host:port, for messages: the URL itself may carry a password. */
  readonly address: string;
}

const FORM = "redis://[user:pass@]host:port[/db][?keyspace=NAME] (rediss:// for TLS)";

/**
 * Parses `redis://[user:pass@]host:port[/db][?keyspace=NAME]` or `rediss://…` (TLS). Other query
 * parameters pass through to ioredis as options, as ioredis itself reads them.
 */
export function parseRedisUrl(url: string): RedisUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not echoed: a malformed URL may still hold a password.
    throw invalid("url", `not a valid redis URL; expected ${FORM}`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw invalid("url", `expected ${FORM}`);
  if (!/^\/?\d*$/.test(u.pathname)) throw invalid("url", `the path names a database by number; expected ${FORM}`);
  const keyspace = u.searchParams.get("keyspace") ?? undefined;
  u.searchParams.delete("keyspace");
  return { connect: u.toString(), keyspace, address: `${u.hostname || "localhost"}:${u.port || "6379"}` };
}
