import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { Database, Statement } from "better-sqlite3";
import { ConcordError, invalid, isConcordError } from "../../errors.js";
import { checkName, idCollisionError, sameEvent, validateEvent } from "../event.js";
import type { AppendResult, Cursor, EventStore, ReadOptions, ReadResult, ReplicatedEvent, VectorClockJSON } from "../types.js";
import { VectorClock } from "../vector-clock.js";
import { checkBatch, checkIds, checkOpen, checkReadOptions, formatCursor } from "./options.js";

export interface SqliteEventStoreOptions {
  /** File path, or ":memory:" for a private in-memory database. The directory is created if missing. */
  path: string;
  /**
   * `synchronous` pragma: with WAL, NORMAL loses nothing acknowledged when the process dies (the
   * commit is in the OS's hands), FULL also survives a power cut at some cost per append. Default NORMAL.
   */
  synchronous?: "NORMAL" | "FULL";
  /** How long an append waits for another process's write transaction, in ms. Default 5,000. */
  busyTimeoutMs?: number;
}

type DatabaseCtor = new (path: string, opts?: { timeout?: number }) => Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS replication_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  aggregate_id TEXT NOT NULL,
  type TEXT NOT NULL,
  origin TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS replication_events_aggregate ON replication_events (aggregate_id, seq);
CREATE TABLE IF NOT EXISTS replication_clock (node TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
`;

interface BodyRow {
  seq: number;
  body: string;
}

function loadDriver(): DatabaseCtor {
  try {
    return createRequire(import.meta.url)("better-sqlite3") as DatabaseCtor;
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "SqliteEventStore needs the package better-sqlite3: npm install better-sqlite3", { cause: e, engine: "sqlite" });
  }
}

// SQLite's own codes: busy/locked may pass, corruption will not.
function fromSqliteError(e: unknown, path: string): ConcordError {
  if (isConcordError(e)) return e;
  const code = String((e as { code?: unknown } | null)?.code ?? "");
  const msg = `sqlite event store ${path}: ${e instanceof Error ? e.message : String(e)}`;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return new ConcordError("UNAVAILABLE", `${msg}; another process holds the write lock, retry`, { cause: e, engine: "sqlite", retryable: true });
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return new ConcordError("CORRUPT", msg, { cause: e, engine: "sqlite" });
  return new ConcordError("UNAVAILABLE", msg, { cause: e, engine: "sqlite", retryable: false });
}

/**
 * An event store in one SQLite file (better-sqlite3, WAL). Each `append` is one transaction: every
 * event of the call is stored or none is, and once it resolves the events survive the process being
 * killed. Cursors are the store's own sequence numbers. Several processes may share the file; one
 * `Replica` (node id) per file.
 */
export class SqliteEventStore implements EventStore {
  readonly path: string;
  readonly #db: Database;
  readonly #q: {
    byId: Statement<[string], { body: string }>;
    insert: Statement<[string, string, string, string, string]>;
    clock: Statement<[string, number]>;
    head: Statement<[], { seq: number }>;
    read: Statement<Record<string, unknown>, BodyRow>;
    byAggregate: Statement<[string], BodyRow>;
    version: Statement<[], { node: string; n: number }>;
    count: Statement<[], { n: number }>;
  };
  #closed = false;

  constructor(opts: string | SqliteEventStoreOptions) {
    const o: SqliteEventStoreOptions = typeof opts === "string" ? { path: opts } : opts;
    if (typeof o !== "object" || o === null || typeof o.path !== "string" || o.path.length === 0) throw invalid("path", "expected a file path or \":memory:\"");
    const sync = o.synchronous ?? "NORMAL";
    if (sync !== "NORMAL" && sync !== "FULL") throw invalid("synchronous", `expected "NORMAL" or "FULL", got ${JSON.stringify(sync)}`);
    const busy = o.busyTimeoutMs ?? 5_000;
    if (!Number.isSafeInteger(busy) || busy < 0) throw invalid("busyTimeoutMs", `expected a non-negative integer, got ${String(busy)}`);
    this.path = o.path === ":memory:" ? o.path : resolve(o.path);
    const Db = loadDriver();
    try {
      if (this.path !== ":memory:") mkdirSync(dirname(this.path), { recursive: true });
      this.#db = new Db(this.path, { timeout: busy });
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${sync}`);
      this.#db.exec(SCHEMA);
      this.#q = {
        byId: this.#db.prepare("SELECT body FROM replication_events WHERE id = ?"),
        insert: this.#db.prepare("INSERT INTO replication_events (id, aggregate_id, type, origin, body) VALUES (?, ?, ?, ?, ?)"),
        clock: this.#db.prepare("INSERT INTO replication_clock (node, n) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET n = max(n, excluded.n)"),
        head: this.#db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM replication_events"),
        read: this.#db.prepare(`SELECT seq, body FROM replication_events
          WHERE seq > @since AND seq <= @head
            AND (@aggs IS NULL OR aggregate_id IN (SELECT value FROM json_each(@aggs)))
            AND (@types IS NULL OR type IN (SELECT value FROM json_each(@types)))
            AND (@exclude IS NULL OR origin <> @exclude)
          ORDER BY seq LIMIT @limit`),
        byAggregate: this.#db.prepare("SELECT seq, body FROM replication_events WHERE aggregate_id = ? ORDER BY seq"),
        version: this.#db.prepare("SELECT node, n FROM replication_clock"),
        count: this.#db.prepare("SELECT COUNT(*) AS n FROM replication_events"),
      };
    } catch (e) {
      throw fromSqliteError(e, this.path);
    }
  }

  async append(events: readonly ReplicatedEvent[]): Promise<AppendResult> {
    this.#check();
    checkBatch(events);
    const batch = events.map((e, i) => validateEvent(e, `events[${i}]`));
    const run = this.#db.transaction((): AppendResult => {
      const appended: string[] = [];
      const duplicates: string[] = [];
      const clock = new Map<string, number>();
      batch.forEach((e, i) => {
        const row = this.#q.byId.get(e.id);
        if (row !== undefined) {
          if (!sameEvent(this.#parse(row.body), e)) throw idCollisionError(e.id, `events[${i}]`);
          duplicates.push(e.id);
          return;
        }
        this.#q.insert.run(e.id, e.aggregateId, e.type, e.origin, JSON.stringify(e));
        appended.push(e.id);
        for (const [node, n] of Object.entries(e.clock)) if (n > (clock.get(node) ?? 0)) clock.set(node, n);
      });
      for (const [node, n] of clock) this.#q.clock.run(node, n);
      return { appended, duplicates };
    });
    return this.#do(() => run.immediate());
  }

  async read(opts?: ReadOptions): Promise<ReadResult> {
    this.#check();
    const r = checkReadOptions(opts);
    return this.#do(() => {
      // Events up to the head read first are all committed: a page never skips a later commit.
      const head = this.#q.head.get()!.seq;
      const rows = this.#q.read.all({
        since: r.since,
        head,
        aggs: r.aggregateIds ? JSON.stringify([...r.aggregateIds]) : null,
        types: r.types ? JSON.stringify([...r.types]) : null,
        exclude: r.excludeOrigin ?? null,
        limit: r.limit,
      });
      const cursor = rows.length < r.limit ? Math.max(head, r.since) : rows[rows.length - 1]!.seq;
      return { events: rows.map((row) => this.#parse(row.body)), cursor: formatCursor(cursor) };
    });
  }

  async byAggregate(aggregateId: string): Promise<ReplicatedEvent[]> {
    this.#check();
    checkName("aggregateId", aggregateId);
    return this.#do(() => this.#q.byAggregate.all(aggregateId).map((row) => this.#parse(row.body)));
  }

  async get(id: string): Promise<ReplicatedEvent | undefined> {
    this.#check();
    checkName("id", id);
    return this.#do(() => {
      const row = this.#q.byId.get(id);
      return row && this.#parse(row.body);
    });
  }

  async has(ids: readonly string[]): Promise<Set<string>> {
    this.#check();
    const list = checkIds(ids);
    return this.#do(() => new Set(list.filter((id) => this.#q.byId.get(id) !== undefined)));
  }

  async version(): Promise<VectorClockJSON> {
    this.#check();
    return this.#do(() => new VectorClock(new Map(this.#q.version.all().map((r) => [r.node, r.n]))).toJSON());
  }

  async head(): Promise<Cursor> {
    this.#check();
    return this.#do(() => formatCursor(this.#q.head.get()!.seq));
  }

  async count(): Promise<number> {
    this.#check();
    return this.#do(() => this.#q.count.get()!.n);
  }

  /** Idempotent; closes the file. Afterwards every call rejects with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #parse(body: string): ReplicatedEvent {
    try {
      return validateEvent(JSON.parse(body), "stored event");
    } catch (e) {
      throw new ConcordError("CORRUPT", `sqlite event store ${this.path}: a stored event is malformed: ${(e as Error).message}`, { cause: e, engine: "sqlite" });
    }
  }

  #do<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw fromSqliteError(e, this.path);
    }
  }

  #check(): void {
    checkOpen(this.#closed, "event store");
  }
}
