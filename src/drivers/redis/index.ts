import type { Redis, RedisOptions } from "ioredis";
import { RuntimeDriver } from "../../driver/runtime.js";
import type { Driver } from "../../driver/types.js";
import { ConcordError, invalid } from "../../errors.js";
import type { Clock } from "../../internal/clock.js";
import { RedisDriver } from "./driver.js";
import { redisError, SocketErrors } from "./errors.js";
import { DEFAULT_KEYSPACE, keyspaceKeys } from "./keys.js";
import { parseRedisUrl } from "./url.js";

export interface RedisDriverOptions {
  /**
   * An ioredis client (a single server, or one behind Sentinel) to use, so you control pooling,
   * TLS and auth. The driver adds its scripts to it, opens one more connection from it
   * (`duplicate()`) for watches, and does not quit it on close: it stays yours.
   */
  client?: Redis;
  /**
   * Used when no `client` is given: `redis://[user:pass@]host:port[/db][?keyspace=NAME]`; `rediss://`
   * for TLS, with `?tlsCa=PATH` for a CA of your own and `tlsCert=PATH&tlsKey=PATH` for a client certificate.
   */
  url?: string;
  /** Clients naming the same keyspace share one; its keys all start with `concord:{NAME}:`. Default: the URL's `?keyspace=`, else "concord". */
  keyspace?: string;
  /**
   * Tests only: this clock judges lease expiry (and is what `time()` reports) instead of the Redis
   * server's clock, and every client of the keyspace must share it, as with the embedded engines.
   * Without it (always, in production) leases are judged by the server's TIME, one clock for all.
   */
  clock?: Clock;
  /** Changes kept in the stream for watch replay; older ones are trimmed (then `COMPACTED`). Default 10,000. */
  historyLimit?: number;
  /** Extra ioredis options for the client the driver creates from `url`. */
  redisOptions?: RedisOptions;
}

/** No reply within this long is UNAVAILABLE; above the tail's blocking read (5 s) so that one is never cut short. */
const COMMAND_TIMEOUT_MS = 10_000;

type RedisCtor = new (url: string, opts: RedisOptions) => Redis;

async function loadIoredis(): Promise<RedisCtor> {
  try {
    return (await import("ioredis")).Redis as unknown as RedisCtor;
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "the redis engine needs the package ioredis: npm install ioredis", { cause: e, engine: "redis" });
  }
}

/** The commands the scripts rely on (XTRIM MINID, exclusive XRANGE bounds) came in Redis 6.2. */
async function checkVersion(client: Redis, address: string): Promise<void> {
  const info = await client.info("server").catch(() => ""); // some hosted servers refuse INFO: then trust them
  const m = /^redis_version:(\d+)\.(\d+)/m.exec(info);
  if (m && Number(m[1]) * 100 + Number(m[2]) < 602) {
    throw new ConcordError("UNSUPPORTED", `redis at ${address} is version ${m[1]}.${m[2]}; the redis engine needs 6.2 or later`, { engine: "redis" });
  }
}

function addressOf(client: Redis): string {
  const o = client.options;
  return o.path ?? `${o.host ?? "localhost"}:${o.port ?? 6379}`;
}

/**
 * With `autoResendUnfulfilledCommands: false`, ioredis forgets the commands that were in flight when
 * the connection closed without settling them (they would hang until `commandTimeout`). Fails them
 * at once instead: the caller gets UNAVAILABLE (outcome unknown) now, and may retry.
 */
function failInFlightOnClose(client: Redis): void {
  client.on("close", () => {
    for (const item of client.commandQueue.toArray()) {
      const err = Object.assign(new Error("the connection closed before the reply came; the command may or may not have run"), {
        code: "ECONNRESET",
      });
      item.command.reject(err);
    }
  });
}

/**
 * A driver over one Redis keyspace (Redis 6.2 or later, ioredis 5). Every operation is one Lua
 * script, so each is atomic and linearizable on one server; with asynchronous replicas a
 * failover can lose acknowledged writes, and with no persistence a restart loses everything
 * (watches then fail with `COMPACTED`). Lease expiry is judged by the server's clock.
 * Resolves once the server has answered; an unreachable one is `UNAVAILABLE`, naming host:port.
 */
export async function createRedisDriver(opts: RedisDriverOptions = {}): Promise<Driver> {
  if (opts.client === undefined && opts.url === undefined) throw invalid("url", "give a redis URL or an ioredis client");
  const historyLimit = opts.historyLimit ?? 10_000;
  if (!Number.isSafeInteger(historyLimit) || historyLimit < 1) throw invalid("historyLimit", `expected a positive integer, got ${String(historyLimit)}`);
  const parsed = opts.client === undefined && opts.url !== undefined ? parseRedisUrl(opts.url) : undefined;
  const keys = keyspaceKeys(opts.keyspace ?? parsed?.keyspace ?? DEFAULT_KEYSPACE);

  let client: Redis;
  let address: string;
  if (opts.client !== undefined) {
    client = opts.client;
    address = addressOf(client);
  } else {
    const Ctor = await loadIoredis();
    address = parsed!.address;
    client = new Ctor(parsed!.connect, {
      lazyConnect: true,
      connectionName: "concord",
      maxRetriesPerRequest: 5,
      // A command in flight when the connection drops may have run: sending it again could apply a
      // write twice (an increment counted two times). It fails instead (UNAVAILABLE, outcome unknown).
      autoResendUnfulfilledCommands: false,
      // Settles such a command, and any call to a server that stopped answering, with UNAVAILABLE.
      commandTimeout: COMMAND_TIMEOUT_MS,
      ...parsed!.tls,
      ...opts.redisOptions,
    });
  }
  const owns = opts.client === undefined;
  const socketErrors = owns ? new SocketErrors() : undefined;
  socketErrors?.watch(client);
  if (owns) failInFlightOnClose(client);
  try {
    if (owns && client.status === "wait") await client.connect(); // unless redisOptions turned lazyConnect off
    await client.ping();
    await checkVersion(client, address);
  } catch (e) {
    if (owns) client.disconnect();
    const err = redisError(e, address, socketErrors?.last);
    throw new ConcordError(err.code, `cannot open the redis keyspace: ${err.message}`, { cause: e, engine: "redis", retryable: err.retryable });
  }
  const leaseClock = opts.clock;
  return new RuntimeDriver(new RedisDriver({ client, ownsClient: owns, keys, address, socketErrors, leaseClock, historyLimit }));
}

/** Opens a redis driver from a connection URL: `redis://[user:pass@]host:port[/db][?keyspace=NAME]`, `rediss://…[?tlsCa=PATH]` for TLS. */
export async function createRedisDriverFromUrl(url: string): Promise<Driver> {
  return createRedisDriver({ url });
}
