import { setMaxListeners } from "node:events";
import type { Pool } from "pg";
import type {
  BatchOp,
  BatchResult,
  DeleteOptions,
  DeleteResult,
  Driver,
  Entry,
  Lease,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  WatchEvent,
  WatchOptions,
} from "../../driver/types.js";
import type { Clock } from "../../internal/clock.js";
import { Notifier } from "../../internal/deferred.js";
import { ConcordError } from "../../errors.js";
import { fromPgError } from "./errors.js";
import { ChangeListener } from "./listener.js";
import { channelOf, ensureSchema } from "./schema.js";
import {
  type ChangeRow,
  changeEvents,
  deleteResult,
  type EntryRow,
  incrementResult,
  type KindRow,
  leaseParam,
  num,
  putResult,
  rangeResult,
  toEntry,
} from "./rows.js";
import { type Statement, type Statements, statements, warmUp } from "./statements.js";
import { LeaseSweeper, type SweepOutcome } from "./sweeper.js";
import { changeLogWatch } from "../../driver/poll-watch.js";

/** What a {@link PostgresDriver} is made of; `createPostgresDriver` assembles it from the user's options. */
export interface PostgresDriverParts {
  pool: Pool;
  /** Whether close() ends the pool: only a pool the driver created. */
  ownsPool: boolean;
  schema: string;
  /** host:port, for messages. */
  where: string;
  /** Timers run on it. */
  clock: Clock;
  /** True when `clock` judges lease expiry instead of the server (tests). */
  clockJudges: boolean;
  historyLimit: number;
  /** Pooled connections opened and warmed up by start(), so that early calls do not each open one. */
  warmConnections: number;
}

const ENGINE = "postgres";

/** The Driver contract over PostgreSQL: see ./sql for how each operation keeps it. */
export class PostgresDriver implements Driver {
  readonly engine = ENGINE;
  readonly #p: PostgresDriverParts;
  readonly #q: Statements;
  readonly #changed = new Notifier();
  readonly #closed = new AbortController();
  readonly #listener: ChangeListener;
  readonly #sweeper: LeaseSweeper;
  #seenRevision = 0;
  #trimmedAt = 0;

  constructor(parts: PostgresDriverParts) {
    this.#p = parts;
    this.#q = statements(parts.schema);
    // Every live watch listens for the close; a driver shared by many clients has many.
    setMaxListeners(0, this.#closed.signal);
    this.#listener = new ChangeListener(parts.pool, channelOf(parts.schema), this.#changed);
    this.#sweeper = new LeaseSweeper({
      sweep: (now) => this.#sweep(now),
      onSwept: (o) => this.#swept(o),
      clock: parts.clock,
      judges: parts.clockJudges,
    });
  }

  /**
   * Creates the schema if needed, starts listening for changes and sweeping leases; rejects if the
   * server is unreachable. Meanwhile it opens and warms up `warmConnections` pooled connections.
   */
  async start(): Promise<void> {
    await Promise.all([this.#listener.start(), this.#prepare()]);
    // The first sweep runs on a connection just warmed, before the client's first call, which then
    // finds one idle instead of opening another.
    this.#sweeper.kick();
    await this.#sweeper.running;
  }

  async #prepare(): Promise<void> {
    const { pool, schema, warmConnections } = this.#p;
    const clients = await Promise.allSettled(Array.from({ length: warmConnections }, () => pool.connect()));
    const held = clients.flatMap((c) => (c.status === "fulfilled" ? [c.value] : []));
    try {
      const failed = clients.find((c) => c.status === "rejected");
      if (failed) throw failed.reason;
      await ensureSchema(held[0]!, schema);
      await Promise.all(held.map((c) => warmUp(c, this.#q)));
      for (const c of held) c.release();
    } catch (e) {
      for (const c of held) c.release(true);
      throw e;
    }
  }

  async #query<R extends object>(st: Statement, values: unknown[]): Promise<R[]> {
    // With a test clock judging leases, a call made after the clock passed a deadline sees the expiry
    // that sweep is making, as it would on an embedded engine (see LeaseSweeper.running).
    if (this.#p.clockJudges) await this.#sweeper.running;
    return this.#send<R>(st, values);
  }

  /** One statement, one round trip; errors judged by their code. The sweep itself calls this directly. */
  async #send<R extends object>(st: Statement, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#p.pool.query<R>({ name: st.name, text: st.text, values })).rows;
    } catch (e) {
      throw fromPgError(e, this.#p.where);
    }
  }

  /** The judging clock's reading, or null for the server's clock. */
  #now(): number | null {
    return this.#p.clockJudges ? Math.floor(this.#p.clock.now()) : null;
  }

  /** A write committed: wake this driver's watches now, without waiting for the NOTIFY to come back. */
  #wrote(revision: number): void {
    if (revision > this.#seenRevision) this.#seenRevision = revision;
    this.#changed.notify();
  }

  #wroteIf(r: PutResult): PutResult {
    if (r.ok) this.#wrote(r.entry.modRevision);
    return r;
  }

  async #sweep(now: number | null): Promise<SweepOutcome> {
    const rows = await this.#send<{ r_next_ms: string | null; r_rev: string }>(this.#q.sweep, [now]);
    const r = rows[0];
    return { nextMs: r?.r_next_ms == null ? null : num(r.r_next_ms), revision: num(r?.r_rev) };
  }

  #swept(o: SweepOutcome): void {
    // A safety net under LISTEN: a write this driver was not told about (a silently dead connection)
    // still reaches its watches within a sweep.
    if (o.revision > this.#seenRevision) this.#wrote(o.revision);
    const every = Math.max(100, Math.floor(this.#p.historyLimit / 10));
    if (o.revision - this.#trimmedAt >= every && o.revision > this.#p.historyLimit) {
      this.#trimmedAt = o.revision;
      // Background work: a failure only means the next sweep tries again.
      this.#send(this.#q.trim, [this.#p.historyLimit]).catch(() => {
        this.#trimmedAt = 0;
      });
    }
  }

  async get(key: string): Promise<Entry | undefined> {
    return toEntry((await this.#query<EntryRow>(this.#q.get, [key]))[0]);
  }

  async range(prefix: string, opts: RangeOptions = {}): Promise<RangeResult> {
    const limit = opts.limit;
    const rows = await this.#query<KindRow>(this.#q.range, [prefix, opts.startAfter ?? null, limit === undefined ? null : limit + 1]);
    return rangeResult(rows, limit);
  }

  #putArgs(key: string, value: Uint8Array, opts: PutOptions): unknown[] {
    const lease = opts.lease === undefined ? null : leaseParam(opts.lease);
    return [key, value, opts.ifVersion ?? null, lease, opts.guard?.key ?? null, opts.guard?.version ?? null, this.#now()];
  }

  #deleteArgs(key: string, opts: DeleteOptions): unknown[] {
    return [key, opts.ifVersion ?? null, opts.guard?.key ?? null, opts.guard?.version ?? null];
  }

  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const rows = await this.#query<KindRow>(this.#q.put, this.#putArgs(key, value, opts));
    return this.#wroteIf(putResult(key, value, opts, rows[0]));
  }

  async putAndRange(key: string, value: Uint8Array, opts: PutOptions, prefix: string): Promise<{ put: PutResult; range: RangeResult }> {
    const rows = await this.#query<KindRow>(this.#q.putRange, [...this.#putArgs(key, value, opts), prefix]);
    const put = this.#wroteIf(putResult(key, value, opts, rows[0]));
    return { put, range: rangeResult(rows.slice(1), undefined) };
  }

  /**
   * Puts and deletes, all or none, in one call of kv_batch: one round trip and one commit (one
   * flush) for all, each op written as a single put or delete is, with a revision of its own.
   */
  async batch(ops: BatchOp[]): Promise<BatchResult> {
    const types: number[] = [];
    const keys: string[] = [];
    const values: Array<Buffer | null> = [];
    const ifs: Array<number | null> = [];
    const leases: Array<string | null> = [];
    const guardKeys: Array<string | null> = [];
    const guardVersions: Array<number | null> = [];
    for (const op of ops) {
      types.push(op.type === "put" ? 0 : 1);
      keys.push(op.key);
      values.push(op.type === "put" ? Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength) : null);
      ifs.push(op.ifVersion ?? null);
      leases.push(op.type === "put" && op.lease !== undefined ? leaseParam(op.lease) : null);
      guardKeys.push(op.guard?.key ?? null);
      guardVersions.push(op.guard?.version ?? null);
    }
    const rows = await this.#query<KindRow & { r_idx: number }>(this.#q.batch, [types, keys, values, ifs, leases, guardKeys, guardVersions, this.#now()]);
    const result = (row: KindRow & { r_idx: number }): PutResult | DeleteResult => {
      const op = ops[row.r_idx]!;
      return op.type === "put" ? putResult(op.key, op.value, op, row) : deleteResult(row);
    };
    const refused = rows.find((r) => r.r_kind !== 0);
    if (refused) return { ok: false, failed: refused.r_idx, result: result(refused) };
    if (rows.length !== ops.length) throw new ConcordError("CORRUPT", "postgres: kv_batch answered for fewer ops than it was given; is the concord schema intact?", { engine: "postgres" });
    const results = rows.map(result);
    for (const r of results) if (r.ok) this.#wrote("entry" in r ? r.entry.modRevision : r.revision);
    return { ok: true, results };
  }

  async increment(key: string, delta: number): Promise<Entry> {
    const entry = incrementResult(key, (await this.#query<KindRow>(this.#q.increment, [key, delta]))[0]);
    this.#wrote(entry.modRevision);
    return entry;
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const r = deleteResult((await this.#query<KindRow>(this.#q.delete, this.#deleteArgs(key, opts)))[0]);
    if (r.ok) this.#wrote(r.revision);
    return r;
  }

  async deletePrefix(prefix: string): Promise<{ deleted: number; revision: number }> {
    const r = (await this.#query<{ r_deleted: string; r_rev: string }>(this.#q.deletePrefix, [prefix]))[0];
    const out = { deleted: num(r?.r_deleted), revision: num(r?.r_rev) };
    if (out.deleted > 0) this.#wrote(out.revision);
    return out;
  }

  async revision(): Promise<number> {
    return num((await this.#query<{ rev: string }>(this.#q.revision, []))[0]?.rev);
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    const r = (await this.#query<{ id: string }>(this.#q.grant, [ttlMs, this.#now()]))[0];
    return { id: String(r?.id), ttlMs };
  }

  async keepAlive(id: string): Promise<boolean> {
    const ok = (await this.#query<{ ok: boolean }>(this.#q.keepAlive, [leaseParam(id), this.#now()]))[0]?.ok === true;
    // Expired but perhaps not yet swept: delete its keys now rather than at the next tick.
    if (!ok) this.#sweeper.kick();
    return ok;
  }

  async revokeLease(id: string): Promise<void> {
    await this.#query(this.#q.revoke, [leaseParam(id)]);
    this.#changed.notify();
  }

  async compact(revision: number): Promise<void> {
    await this.#query(this.#q.compact, [revision]);
  }

  /** The server's clock; in tests where a shared clock judges leases, that clock, so the two agree. */
  async time(): Promise<number> {
    if (this.#p.clockJudges) return this.#p.clock.now();
    return num((await this.#query<{ ms: number }>(this.#q.time, []))[0]?.ms);
  }

  async #changesSince(prefix: string, from: number, limit: number): Promise<WatchEvent[]> {
    return changeEvents(await this.#query<ChangeRow>(this.#q.changes, [prefix, from, limit]), from);
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return changeLogWatch(
      {
        changesSince: (p, from, limit) => this.#changesSince(p, from, limit),
        currentRevision: () => this.revision(),
        changed: this.#changed,
        closed: this.#closed.signal,
      },
      prefix,
      opts,
    );
  }

  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#sweeper.stop();
    this.#listener.close();
    this.#changed.notify();
    // Waits for calls in flight; a pool the user passed in stays theirs to end.
    if (this.#p.ownsPool) await this.#p.pool.end();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
