import type { Pool, PoolClient, PoolConfig } from "pg";
import { ConcordError, invalid, isConcordError } from "../../errors.js";
import { checkName, idCollisionError, sameEvent, validateEvent } from "../event.js";
import type { AppendResult, Cursor, EventStore, ReadOptions, ReadResult, ReplicatedEvent, VectorClockJSON } from "../types.js";
import { VectorClock } from "../vector-clock.js";
import { checkBatch, checkIds, checkOpen, checkReadOptions, formatCursor } from "./options.js";

export interface PostgresEventStoreOptions {
  /** `postgres://user:pass@host:port/db`, used when no `pool` is given (default: pg's PG* environment). */
  connectionString?: string;
  /** Your own pg Pool (pooling, TLS, credentials); `close()` leaves it open. */
  pool?: Pool;
  /** The schema holding the store's tables, created on first use. Default `concord`. */
  schema?: string;
  /** Size of the pool the store creates. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before failing with `UNAVAILABLE`, in ms. Default 5,000. */
  connectTimeoutMs?: number;
}

type PgModule = { Pool: new (config?: PoolConfig) => Pool };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;
// Errors of a connection that is away or a server that is busy: the same call may pass later.
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
const TRANSIENT = new Set(["57P01", "57P02", "57P03", "55P03", "57014", "40001", "40P01"]);

function whereOf(opts: PostgresEventStoreOptions): string {
  if (opts.pool) return `${opts.pool.options.host ?? "localhost"}:${opts.pool.options.port ?? 5432}`;
  if (opts.connectionString === undefined) return `${process.env["PGHOST"] ?? "localhost"}:${process.env["PGPORT"] ?? "5432"}`;
  try {
    const u = new URL(opts.connectionString);
    return `${u.hostname || "localhost"}:${u.port || "5432"}`;
  } catch {
    throw invalid("connectionString", "expected postgres://user:password@host:port/database");
  }
}

function fromPgError(e: unknown, where: string): ConcordError {
  if (isConcordError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const text = e instanceof Error ? e.message : String(e);
  const retryable = typeof code !== "string" || NETWORK.has(code) || TRANSIENT.has(code) || code.startsWith("08") || code.startsWith("53");
  const hint = retryable ? "; is the server running and reachable?" : "";
  return new ConcordError("UNAVAILABLE", `postgres event store at ${where}: ${text}${typeof code === "string" ? ` (${code})` : ""}${hint}`, { cause: e, engine: "postgres", retryable });
}

interface BodyRow {
  seq: string;
  body: string;
}

/**
 * An event store in PostgreSQL, for the server side: tables `replication_events`, `replication_head`
 * and `replication_clock` in their own schema, created on first use. Each `append` is one
 * transaction that locks the head row, so sequence numbers are assigned in commit order and a reader
 * following cursors never skips an event committed late.
 */
export class PostgresEventStore implements EventStore {
  readonly schema: string;
  readonly #opts: PostgresEventStoreOptions;
  readonly #where: string;
  readonly #t: { events: string; head: string; clock: string };
  #pool: Pool | undefined;
  #ready: Promise<Pool> | undefined;
  #closed = false;

  constructor(opts: PostgresEventStoreOptions = {}) {
    if (typeof opts !== "object" || opts === null) throw invalid("opts", "expected { connectionString } or { pool }");
    const schema = opts.schema ?? "concord";
    if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) throw invalid("schema", `expected a lowercase identifier of at most 40 characters, got ${JSON.stringify(schema)}`);
    for (const k of ["maxConnections", "connectTimeoutMs"] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw invalid(k, `expected a positive integer, got ${String(v)}`);
    }
    this.schema = schema;
    this.#opts = opts;
    this.#where = whereOf(opts);
    this.#t = { events: `"${schema}".replication_events`, head: `"${schema}".replication_head`, clock: `"${schema}".replication_clock` };
  }

  async append(events: readonly ReplicatedEvent[]): Promise<AppendResult> {
    this.#check();
    checkBatch(events);
    const batch = events.map((e, i) => validateEvent(e, `events[${i}]`));
    if (batch.length === 0) return { appended: [], duplicates: [] };
    return this.#tx(async (c) => {
      const head = Number((await c.query<{ seq: string }>(`SELECT seq FROM ${this.#t.head} FOR UPDATE`)).rows[0]!.seq);
      const ids = [...new Set(batch.map((e) => e.id))];
      const held = new Map<string, ReplicatedEvent>();
      for (const row of (await c.query<{ id: string; body: string }>(`SELECT id, body FROM ${this.#t.events} WHERE id = ANY($1::text[])`, [ids])).rows) {
        held.set(row.id, this.#parse(row.body));
      }
      const fresh: ReplicatedEvent[] = [];
      const duplicates: string[] = [];
      batch.forEach((e, i) => {
        const known = held.get(e.id);
        if (known === undefined) {
          held.set(e.id, e);
          fresh.push(e);
        } else if (sameEvent(known, e)) duplicates.push(e.id);
        else throw idCollisionError(e.id, `events[${i}]`);
      });
      if (fresh.length > 0) {
        await c.query(
          `INSERT INTO ${this.#t.events} (seq, id, aggregate_id, type, origin, body)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
          [
            fresh.map((_, i) => head + i + 1),
            fresh.map((e) => e.id),
            fresh.map((e) => e.aggregateId),
            fresh.map((e) => e.type),
            fresh.map((e) => e.origin),
            fresh.map((e) => JSON.stringify(e)),
          ],
        );
        await c.query(`UPDATE ${this.#t.head} SET seq = $1`, [head + fresh.length]);
        const clock = VectorClock.merge(...fresh.map((e) => e.clock));
        await c.query(
          `INSERT INTO ${this.#t.clock} AS t (node, n) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (node) DO UPDATE SET n = GREATEST(t.n, excluded.n)`,
          [Object.keys(clock), Object.values(clock)],
        );
      }
      return { appended: fresh.map((e) => e.id), duplicates };
    });
  }

  async read(opts?: ReadOptions): Promise<ReadResult> {
    this.#check();
    const r = checkReadOptions(opts);
    return this.#run(async (pool) => {
      // The committed head first: every event at or below it is committed, so no page skips one.
      const head = Number((await pool.query<{ seq: string }>(`SELECT seq FROM ${this.#t.head}`)).rows[0]!.seq);
      const rows = (
        await pool.query<BodyRow>(
          `SELECT seq, body FROM ${this.#t.events}
           WHERE seq > $1 AND seq <= $2
             AND ($3::text[] IS NULL OR aggregate_id = ANY($3::text[]))
             AND ($4::text[] IS NULL OR type = ANY($4::text[]))
             AND ($5::text IS NULL OR origin <> $5::text)
           ORDER BY seq LIMIT $6`,
          [r.since, head, r.aggregateIds ? [...r.aggregateIds] : null, r.types ? [...r.types] : null, r.excludeOrigin ?? null, r.limit],
        )
      ).rows;
      const cursor = rows.length < r.limit ? Math.max(head, r.since) : Number(rows[rows.length - 1]!.seq);
      return { events: rows.map((row) => this.#parse(row.body)), cursor: formatCursor(cursor) };
    });
  }

  async byAggregate(aggregateId: string): Promise<ReplicatedEvent[]> {
    this.#check();
    checkName("aggregateId", aggregateId);
    return this.#run(async (pool) => {
      const rows = (await pool.query<BodyRow>(`SELECT seq, body FROM ${this.#t.events} WHERE aggregate_id = $1 ORDER BY seq`, [aggregateId])).rows;
      return rows.map((row) => this.#parse(row.body));
    });
  }

  async get(id: string): Promise<ReplicatedEvent | undefined> {
    this.#check();
    checkName("id", id);
    return this.#run(async (pool) => {
      const row = (await pool.query<{ body: string }>(`SELECT body FROM ${this.#t.events} WHERE id = $1`, [id])).rows[0];
      return row && this.#parse(row.body);
    });
  }

  async has(ids: readonly string[]): Promise<Set<string>> {
    this.#check();
    const list = checkIds(ids);
    if (list.length === 0) return new Set();
    return this.#run(async (pool) => {
      const rows = (await pool.query<{ id: string }>(`SELECT id FROM ${this.#t.events} WHERE id = ANY($1::text[])`, [list])).rows;
      return new Set(rows.map((r) => r.id));
    });
  }

  async version(): Promise<VectorClockJSON> {
    this.#check();
    return this.#run(async (pool) => {
      const rows = (await pool.query<{ node: string; n: string }>(`SELECT node, n FROM ${this.#t.clock}`)).rows;
      return new VectorClock(new Map(rows.map((r) => [r.node, Number(r.n)]))).toJSON();
    });
  }

  async head(): Promise<Cursor> {
    this.#check();
    return this.#run(async (pool) => formatCursor(Number((await pool.query<{ seq: string }>(`SELECT seq FROM ${this.#t.head}`)).rows[0]!.seq)));
  }

  async count(): Promise<number> {
    this.#check();
    return this.#run(async (pool) => Number((await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.#t.events}`)).rows[0]!.n));
  }

  /** Idempotent; ends the pool the store created (never one passed in). Afterwards calls reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready?.catch(() => undefined);
    if (this.#opts.pool === undefined) await this.#pool?.end().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(): Promise<Pool> {
    this.#ready ??= (async () => {
      let pool = this.#opts.pool ?? this.#pool;
      if (!pool) {
        const pg = await loadPg();
        pool = new pg.Pool({
          ...(this.#opts.connectionString === undefined ? {} : { connectionString: this.#opts.connectionString }),
          max: this.#opts.maxConnections ?? 10,
          connectionTimeoutMillis: this.#opts.connectTimeoutMs ?? 5_000,
        });
        // An idle connection the server drops must not crash the process; the next query reconnects.
        pool.on("error", () => undefined);
        this.#pool = pool;
      }
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        // One creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide in the catalog.
        await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`concord.replication.${this.schema}`]);
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.#t.events} (
          seq bigint PRIMARY KEY, id text NOT NULL UNIQUE, aggregate_id text NOT NULL,
          type text NOT NULL, origin text NOT NULL, body text NOT NULL)`);
        await c.query(`CREATE INDEX IF NOT EXISTS replication_events_aggregate ON ${this.#t.events} (aggregate_id, seq)`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.#t.head} (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL)`);
        await c.query(`INSERT INTO ${this.#t.head} (one, seq) VALUES (true, 0) ON CONFLICT DO NOTHING`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${this.#t.clock} (node text PRIMARY KEY, n bigint NOT NULL)`);
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
      return pool;
    })();
    // A failed first use (server away) is retried by the next call instead of failing forever.
    this.#ready.catch(() => {
      this.#ready = undefined;
    });
    return this.#ready;
  }

  async #run<T>(fn: (pool: Pool) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#open());
    } catch (e) {
      throw fromPgError(e, this.#where);
    }
  }

  #tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return this.#run(async (pool) => {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        const out = await fn(c);
        await c.query("COMMIT");
        return out;
      } catch (e) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
    });
  }

  #parse(body: string): ReplicatedEvent {
    try {
      return validateEvent(JSON.parse(body), "stored event");
    } catch (e) {
      throw new ConcordError("CORRUPT", `postgres event store at ${this.#where}: a stored event is malformed: ${(e as Error).message}`, { cause: e, engine: "postgres" });
    }
  }

  #check(): void {
    checkOpen(this.#closed, "event store");
  }
}

async function loadPg(): Promise<PgModule> {
  try {
    return (await import("pg")).default as PgModule;
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "PostgresEventStore needs the package pg: npm install pg", { cause: e, engine: "postgres" });
  }
}
