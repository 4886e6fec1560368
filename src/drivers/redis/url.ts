import { readFileSync } from "node:fs";
import { invalid } from "../../errors.js";

/** A connection URL taken apart: what ioredis gets, and what Concord keeps for itself. */
export interface RedisUrl {
  /** The URL for ioredis, without Concord's own parameters. */
  readonly connect: string;
  /** `?keyspace=NAME`, if given. */
  readonly keyspace: string | undefined;
  /** host:port, for messages: the URL itself may carry a password. */
  readonly address: string;
  /** ioredis options for `rediss://` with `?tlsCa=`, `tlsCert=`, `tlsKey=` (files read here); empty otherwise. */
  readonly tls: { tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } };
}

/** TLS parameters: PEM file paths, read when the URL is parsed. */
const TLS_FILES = { tlsCa: "ca", tlsCert: "cert", tlsKey: "key" } as const;

function readPem(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw invalid(param, `cannot read the PEM file ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

const FORM = "redis://[user:pass@]host:port[/db][?keyspace=NAME] (rediss://…[?tlsCa=PATH] for TLS)";

/**
 * Parses `redis://[user:pass@]host:port[/db][?keyspace=NAME]` or `rediss://…` (TLS). With
 * `rediss://`, `?tlsCa=PATH` names a PEM file of the CA to trust instead of the system's, and
 * `tlsCert=PATH&tlsKey=PATH` a client certificate. Other query parameters pass through to ioredis
 * as options, as ioredis itself reads them.
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
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const [param, field] of Object.entries(TLS_FILES)) {
    const path = u.searchParams.get(param);
    if (path === null) continue;
    if (u.protocol !== "rediss:") throw invalid("url", `${param} needs TLS: use rediss://`);
    tls[field] = readPem(param, path);
    u.searchParams.delete(param);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw invalid("url", "tlsCert and tlsKey go together");
  const address = `${u.hostname || "localhost"}:${u.port || "6379"}`;
  return { connect: u.toString(), keyspace, address, tls: Object.keys(tls).length > 0 ? { tls } : {} };
}
