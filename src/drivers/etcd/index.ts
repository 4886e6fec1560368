import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Etcd3, IOptions } from "etcd3";
import { RuntimeDriver } from "../../driver/runtime.js";
import type { Driver } from "../../driver/types.js";
import { ConcordError, invalid } from "../../errors.js";
import { EtcdDriver } from "./driver.js";
import { Keyspace } from "./keys.js";
import { type EtcdUrl, parseEtcdUrl } from "./url.js";

export { parseEtcdUrl, type EtcdUrl } from "./url.js";

/** Options of {@link createEtcdDriver}. */
export interface EtcdDriverOptions {
  /**
   * Your own etcd3 client, to control pooling, TLS and fault handling. You keep it: `close()` does
   * not close it. Its retry policy applies to writes too; etcd3's default retries a failed write,
   * which can apply it twice, so prefer `faultHandling: { global: noop }` from cockatiel.
   */
  client?: Etcd3;
  /**
   * Members, `host:port` or `http(s)://host:port`; default `127.0.0.1:2379`. Used to build the client
   * when none is given, and by `time()` (which otherwise asks the cluster for its members' URLs).
   */
  hosts?: string | string[];
  /** Every key is stored under `keyspace + "/"`; empty (the default) stores keys as they are. */
  keyspace?: string;
  /** etcd user and password, for a client built here. Never printed. */
  auth?: { username: string; password: string };
  /** TLS material for `https://` members, for a client built here and for `time()`. */
  credentials?: IOptions["credentials"];
  /** Deadline of each call of a client built here (and the longest a lease renewal waits). Default 5,000 ms. */
  callTimeoutMs?: number;
}

type Etcd3Module = { Etcd3: new (options: IOptions) => Etcd3 };
type GlobalPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

function loadEtcd3(): Etcd3Module {
  try {
    return createRequire(import.meta.url)("etcd3") as Etcd3Module;
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "the etcd engine needs the package etcd3: npm install etcd3", { cause: e, engine: "etcd" });
  }
}

// etcd3 retries any call that failed on a member, writes included. The driver retries only calls
// that are safe to repeat, so the client's own policy makes exactly one attempt. (etcd3 only ever
// calls `execute` on it; cockatiel's `noop` is the same thing, but cockatiel is not ours to import.)
// Its context's signal never aborts (a call's deadline ends it), so one serves every call.
const neverAborted = { signal: new AbortController().signal };
const singleAttempt = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => fn(neverAborted),
} as unknown as GlobalPolicy;

function endpointsOf(hosts: string | string[] | undefined, secure: boolean): string[] {
  const list = hosts === undefined ? ["127.0.0.1:2379"] : typeof hosts === "string" ? [hosts] : hosts;
  if (list.length === 0) throw invalid("hosts", "names no member; give at least one host:port");
  return list.map((h) => {
    if (typeof h !== "string" || h.length === 0) throw invalid("hosts", "expected host:port strings");
    return /^https?:\/\//.test(h) ? h : `${secure ? "https" : "http"}://${h}`;
  });
}

/**
 * A driver over an etcd v3 cluster (3.4 or later). Revisions are etcd's own, which one counter
 * numbers for the whole cluster: they strictly increase, skipping the values other keyspaces use.
 * `revision()` is this keyspace's (its last write's), kept in a head key every write touches in
 * the same txn. Every conditional write is one txn; leases are etcd leases (whole seconds, judged
 * by the leader's clock); watch is etcd's watch, resumed across lost members. Reads and writes are
 * linearizable, as etcd's are. `time()` reads a member's HTTP `Date` header: one-second resolution,
 * so good to about ±500 ms plus half a round trip. A write that fails with `UNAVAILABLE` may or may
 * not have been applied (it is not retried); reads and lease calls are retried on other members.
 */
export function createEtcdDriver(opts: EtcdDriverOptions = {}): Driver {
  if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
  const keys = new Keyspace(opts.keyspace ?? "");
  const callTimeoutMs = opts.callTimeoutMs ?? 5_000;
  if (!Number.isSafeInteger(callTimeoutMs) || callTimeoutMs < 1) throw invalid("callTimeoutMs", `expected a positive integer, got ${String(callTimeoutMs)}`);
  const secure = opts.credentials !== undefined;
  const endpoints = opts.client && opts.hosts === undefined ? undefined : endpointsOf(opts.hosts, secure);
  let client = opts.client;
  if (!client) {
    const { Etcd3 } = loadEtcd3();
    client = new Etcd3({
      hosts: endpoints!,
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // Streams (watch, keep-alive) live long; every unary call gets a deadline.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      faultHandling: { global: singleAttempt },
      grpcOptions: {
        // Pings find a member that vanished without closing the socket (SIGSTOP, lost network);
        // etcd accepts pings no more often than every 5 s.
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        // A range or a batch of watch events can exceed gRPC's default 4 MiB.
        "grpc.max_receive_message_length": 256 * 1024 * 1024,
      },
    });
  }
  const creds = opts.credentials;
  return new RuntimeDriver(
    new EtcdDriver({
      client,
      ownsClient: opts.client === undefined,
      keys,
      endpoints,
      tls: creds ? { ca: creds.rootCertificate, cert: creds.certChain, key: creds.privateKey } : undefined,
      callTimeoutMs,
    }),
  );
}

function readPem(param: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw invalid(param, `cannot read the PEM file ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** TLS material for etcd3 from the URL's PEM paths; without `tlsCa` the system's CAs are trusted. */
function readCredentials(tls: NonNullable<EtcdUrl["tls"]>): NonNullable<IOptions["credentials"]> {
  const ca = readPem("tlsCa", tls.ca);
  const cert = readPem("tlsCert", tls.cert);
  const key = readPem("tlsKey", tls.key);
  // etcd3 hands these to grpc.credentials.createSsl, where a missing root means the system's.
  return { rootCertificate: ca as Buffer, ...(cert && key ? { certChain: cert, privateKey: key } : {}) };
}

/**
 * Opens an etcd driver from `etcd://[user:password@]h1:2379,h2:2379[?keyspace=NAME&callTimeoutMs=N]`
 * (`etcds://…[?tlsCa=PATH&tlsCert=PATH&tlsKey=PATH]` for TLS) and checks that the cluster answers, so a wrong
 * address fails here with `UNAVAILABLE` naming the endpoints, not at the first operation.
 */
export async function createEtcdDriverFromUrl(url: string): Promise<Driver> {
  const u = parseEtcdUrl(url);
  const credentials = u.tls ? readCredentials(u.tls) : undefined;
  const driver = createEtcdDriver({
    hosts: u.hosts,
    keyspace: u.keyspace,
    ...(u.auth ? { auth: u.auth } : {}),
    ...(credentials ? { credentials } : {}),
    ...(u.callTimeoutMs !== undefined ? { callTimeoutMs: u.callTimeoutMs } : {}),
  });
  try {
    await driver.revision();
  } catch (e) {
    await driver.close();
    throw e;
  }
  return driver;
}
