/**
 * The PostgreSQL engine: `connect("postgres://user:pass@host:5432/db?schema=concord")`.
 *
 * One keyspace per schema (default `concord`), created on first use. Revisions come from a one-row
 * counter that every write locks, so watch order is commit order with no gap; watches are woken by
 * LISTEN/NOTIFY and replay from a change table; leases are judged by the server's clock. Needs a
 * session-level connection for LISTEN: a transaction-pooling proxy (PgBouncer in transaction mode)
 * in front of the server will not do for the driver's own pool.
 * @module
 */
import type { Pool, PoolConfig } from "pg";
import { RuntimeDriver } from "../../driver/runtime.js";
import type { Driver } from "../../driver/types.js";
import { ConcordError, invalid } from "../../errors.js";
import { type Clock, systemClock } from "../../internal/clock.js";
import { PostgresDriver } from "./driver.js";
import { fromPgError } from "./errors.js";
import { checkSchemaName, DEFAULT_SCHEMA, describeTarget, parsePostgresUrl } from "./url.js";

export { DEFAULT_SCHEMA } from "./url.js";

export interface PostgresDriverOptions {
  /**
   * Your own pg Pool, to control pooling, TLS and credentials yourself. The driver holds one of its
   * connections for LISTEN and never ends the pool; `close()` leaves it to you.
   */
  pool?: Pool;
  /** `postgres://user:pass@host:port/db?sslmode=…`, used when no `pool` is given (default: pg's PG* environment). */
  connectionString?: string;
  /** The schema that holds the keyspace, created on first use. Default `concord`. */
  schema?: string;
  /**
   * Judges lease expiry instead of the server's clock, and runs the driver's timers. Only for tests in
   * one process where every client of the keyspace shares this clock (a ManualClock): two hosts'
   * clocks must never judge one lease. Default: the server's `clock_timestamp()` judges.
   */
  clock?: Clock;
  /** Revisions of history kept for watch replay, trimmed in the background. Default 10,000. */
  historyLimit?: number;
  /** Size of the pool the driver creates (one connection is the LISTEN connection). Default 10. */
  maxConnections?: number;
  /** How long to wait for a new connection before failing with UNAVAILABLE, in ms. Default 5,000. */
  connectTimeoutMs?: number;
}

type PgModule = { Pool: new (config?: PoolConfig) => Pool };

async function loadPg(): Promise<PgModule> {
  try {
    return (await import("pg")).default as PgModule;
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "the postgres engine needs the package pg: npm install pg", { cause: e, engine: "postgres" });
  }
}

function checkCount(arg: string, n: number | undefined, min: number): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < min)) throw invalid(arg, `expected an integer of at least ${min}, got ${String(n)}`);
}

/**
 * Opens a driver over PostgreSQL: creates the schema if needed, starts listening for changes and
 * sweeping expired leases. Rejects with `UNAVAILABLE` (naming host:port, never the password) when the
 * server cannot be reached.
 */
export async function createPostgresDriver(opts: PostgresDriverOptions = {}): Promise<Driver> {
  const schema = opts.schema ?? DEFAULT_SCHEMA;
  checkSchemaName(schema);
  checkCount("historyLimit", opts.historyLimit, 1);
  checkCount("maxConnections", opts.maxConnections, 2);
  checkCount("connectTimeoutMs", opts.connectTimeoutMs, 1);
  if (opts.pool && opts.pool.options.max < 2) {
    throw invalid("pool", "needs room for at least 2 connections: the driver holds one for LISTEN");
  }
  const ownsPool = opts.pool === undefined;
  let pool: Pool;
  if (opts.pool) pool = opts.pool;
  else {
    const pg = await loadPg();
    pool = new pg.Pool({
      ...(opts.connectionString === undefined ? {} : { connectionString: opts.connectionString }),
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      // Notice a peer that vanished without closing the socket, such as the LISTEN connection's.
      keepAlive: true,
      // Idle connections do not keep the process alive; Concord's own timers do not either.
      allowExitOnIdle: true,
      // Warm connections are worth keeping: opening one costs a server process and a compile.
      idleTimeoutMillis: 60_000,
      application_name: "concord",
    });
    // An idle connection dies with a server restart: the pool drops it and opens another on demand.
    pool.on("error", () => {});
  }
  const where = describeTarget(pool.options ?? {});
  const driver = new PostgresDriver({
    pool,
    ownsPool,
    schema,
    where,
    clock: opts.clock ?? systemClock,
    clockJudges: opts.clock !== undefined,
    historyLimit: opts.historyLimit ?? 10_000,
    // Two: a client's first moves (its watch stream starting while it reads or writes) overlap.
    // Leave room for the LISTEN connection in a small pool of the user's.
    warmConnections: Math.max(1, Math.min(2, (pool.options?.max ?? 10) - 1)),
  });
  try {
    await driver.start();
  } catch (e) {
    await driver.close().catch(() => undefined);
    throw fromPgError(e, where, "cannot open the keyspace");
  }
  return new RuntimeDriver(driver);
}

/**
 * Opens a driver from `postgres://user:pass@host:port/db?schema=NAME&sslmode=…` (or `postgresql://`).
 * `schema` picks the keyspace (default `concord`); every other parameter goes to pg as it is.
 */
export async function createPostgresDriverFromUrl(
  url: string,
  opts: Omit<PostgresDriverOptions, "pool" | "connectionString" | "schema"> = {},
): Promise<Driver> {
  const { connectionString, schema } = parsePostgresUrl(url);
  return createPostgresDriver({ ...opts, connectionString, ...(schema === undefined ? {} : { schema }) });
}
