import { readFileSync, watch as fsWatch, mkdirSync, type FSWatcher } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, resolve } from "node:path";
import type { Database } from "better-sqlite3";
import { changeLogWatch } from "../../driver/poll-watch.js";
import { RuntimeDriver } from "../../driver/runtime.js";
import type {
  BatchOp,
  BatchResult,
  DeleteOptions,
  DeleteResult,
  Driver,
  Entry,
  Guard,
  Lease,
  PutOptions,
  PutResult,
  RangeOptions,
  RangeResult,
  WatchEvent,
  WatchOptions,
} from "../../driver/types.js";
import { ConcordError } from "../../errors.js";
import { type Clock, systemClock } from "../../internal/clock.js";
import { Notifier } from "../../internal/deferred.js";
import { addInteger, integerBytes } from "../../driver/integer.js";
import { type ChangeRow, prepare, type Row, type Statements } from "./statements.js";

export interface SqliteDriverOptions {
  /** File path, or ":memory:" for a private in-memory database. */
  path: string;
  /** The host clock that judges lease expiry; inject a ManualClock in single-process tests. */
  clock?: Clock;
  /** Changes kept for watch replay. Default 10,000. */
  historyLimit?: number;
  /** How long a writer waits for another process's transaction, in ms. Default 5,000. */
  busyTimeoutMs?: number;
  /** `synchronous` pragma: NORMAL survives a process crash, FULL also a power cut. Default NORMAL. */
  synchronous?: "NORMAL" | "FULL";
}

// Ends every key range: U+10FFFF sorts after every other code point in SQLite's binary UTF-8 order.
const TOP = "\u{10FFFF}";

function toEntry(r: Row): Entry {
  return {
    key: r.key,
    value: new Uint8Array(r.value),
    createRevision: r.create_rev,
    modRevision: r.mod_rev,
    lease: r.lease === null ? undefined : String(r.lease),
  };
}

class SqliteDriver implements Driver {
  readonly engine = "sqlite";
  readonly #db: Database;
  readonly #q: Statements;
  readonly #clock: Clock;
  readonly #historyLimit: number;
  readonly #busyTimeoutMs: number;
  readonly #changed = new Notifier();
  readonly #closed = new AbortController();
  #fsWatcher: FSWatcher | undefined;
  #sweepTimer: unknown;
  #pollTimer: unknown;
  #dataVersion = 0;
  #writes = 0;

  constructor(db: Database, opts: SqliteDriverOptions) {
    this.#db = db;
    this.#clock = opts.clock ?? systemClock;
    this.#historyLimit = opts.historyLimit ?? 10_000;
    this.#busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.#q = prepare(db);
    this.#dataVersion = this.#readDataVersion();
    if (opts.path !== ":memory:") this.#watchFile(resolve(opts.path));
    this.#schedulePoll();
    this.#scheduleSweep(0);
  }

  #readDataVersion(): number {
    return this.#db.pragma("data_version", { simple: true }) as number;
  }

  /** Another process's commit touches the WAL file: inotify tells us at once, without polling. */
  #watchFile(path: string): void {
    const dir = dirname(path);
    const names = new Set([basename(path), `${basename(path)}-wal`]);
    try {
      this.#fsWatcher = fsWatch(dir, { persistent: false }, (_ev, file) => {
        if (file === null || names.has(file)) this.#checkForeignWrite();
      });
      this.#fsWatcher.on("error", () => {
        this.#fsWatcher?.close();
        this.#fsWatcher = undefined;
      });
    } catch {
      this.#fsWatcher = undefined; // the slow poll below still delivers
    }
  }

  #checkForeignWrite(): void {
    if (this.#closed.signal.aborted) return;
    const v = this.#readDataVersion();
    if (v !== this.#dataVersion) {
      this.#dataVersion = v;
      this.#changed.notify();
      this.#scheduleSweep(0);
    }
  }

  /** A safety net for file systems without inotify: a cheap pragma read, 4 times a second. */
  #schedulePoll(): void {
    this.#pollTimer = this.#clock.setTimeout(() => {
      try {
        this.#checkForeignWrite();
      } catch {
        // a busy or closing database is retried on the next tick
      }
      if (!this.#closed.signal.aborted) this.#schedulePoll();
    }, 250);
  }

  /** Expires leases whose deadline has passed on the host clock, then sleeps until the next deadline. */
  #scheduleSweep(delayMs: number): void {
    if (this.#closed.signal.aborted) return;
    if (this.#sweepTimer !== undefined) this.#clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      if (this.#closed.signal.aborted) return;
      let next: number | null;
      try {
        next = this.#sweep();
      } catch {
        next = this.#clock.now() + 5; // another process is writing: try again in a moment
      }
      // Other processes may grant or extend leases meanwhile: look again at least every second.
      this.#scheduleSweep(next === null ? 1000 : Math.min(1000, Math.max(0, next - this.#clock.now())));
    }, delayMs);
  }

  /** Expires what is due, at once (one attempt: a busy database is retried by the caller); returns the next deadline. */
  #sweep(): number | null {
    const expired = this.#q.leaseExpired.all(this.#clock.now()) as number[];
    if (expired.length > 0) {
      this.#db
        .transaction(() => {
          for (const id of this.#q.leaseExpired.all(this.#clock.now()) as number[]) this.#revoke(id);
        })
        .immediate();
      this.#changed.notify();
    }
    return this.#q.leaseNext.get() as number | null;
  }

  /**
   * Runs `fn`, retrying while another process holds the write lock. SQLite's own busy handler
   * sleeps 1, 2, 5, 10… ms in a blocked thread; yielding to the event loop and retrying at once
   * hands the lock over in a fraction of that and keeps this process responsive meanwhile.
   */
  async #retry<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (e) {
        if ((e as { code?: string }).code !== "SQLITE_BUSY" || Date.now() > deadline || this.#closed.signal.aborted) throw e;
        if (attempt < 50) await new Promise((r) => setImmediate(r));
        else await new Promise((r) => setTimeout(r, Math.min(10, attempt - 49)));
      }
    }
  }

  // data_version moves only for other connections' commits, so our own need no re-read.
  async #tx<T>(fn: () => T): Promise<T> {
    const run = this.#db.transaction(fn);
    const out = await this.#retry(() => run.immediate());
    this.#changed.notify();
    return out;
  }

  #nextRev(): number {
    const rev = this.#q.bumpRevision.get() as number;
    if (++this.#writes % 500 === 0) this.#trim(rev);
    return rev;
  }

  #trim(rev: number): void {
    const keepFrom = rev - this.#historyLimit;
    if (keepFrom > (this.#q.metaGet.get("first_kept") as number)) this.#compact(keepFrom);
  }

  #compact(revision: number): void {
    this.#q.trim.run(revision);
    this.#q.metaSet.run(revision, "first_kept");
  }

  #row(key: string): Entry | undefined {
    const r = this.#q.get.get(key) as Row | undefined;
    return r && toEntry(r);
  }

  #checks(
    key: string,
    ifVersion: number | undefined,
    guard: Guard | undefined,
  ): { ok: false; current: Entry | undefined; guardFailed?: boolean } | { ok: true; current: Entry | undefined } {
    const current = this.#row(key);
    if (guard && this.#row(guard.key)?.modRevision !== guard.version) return { ok: false, current, guardFailed: true };
    if (ifVersion !== undefined && (ifVersion === 0 ? current !== undefined : current?.modRevision !== ifVersion)) {
      return { ok: false, current };
    }
    return { ok: true, current };
  }

  #delete(e: Entry): number {
    const rev = this.#nextRev();
    this.#q.remove.run(e.key);
    this.#q.logDelete.run(rev, e.key);
    return rev;
  }

  #revoke(id: number): void {
    for (const r of this.#q.leaseKeys.all(id) as Row[]) this.#delete(toEntry(r));
    this.#q.leaseDelete.run(id);
  }

  async get(key: string): Promise<Entry | undefined> {
    return this.#retry(() => this.#row(key));
  }

  async range(prefix: string, opts: RangeOptions = {}): Promise<RangeResult> {
    const read = this.#db.transaction(() => this.#range(prefix, opts));
    return this.#retry(() => read());
  }

  #range(prefix: string, opts: RangeOptions): RangeResult {
    const limit = opts.limit ?? -1;
    {
      const rows = this.#q.range.all(prefix, opts.startAfter ?? "", prefix + TOP, limit === -1 ? -1 : limit + 1) as Row[];
      const more = limit !== -1 && rows.length > limit;
      return {
        entries: (more ? rows.slice(0, limit) : rows).map(toEntry),
        revision: this.#q.metaGet.get("revision") as number,
        more,
      };
    }
  }

  async increment(key: string, delta: number): Promise<Entry> {
    return this.#tx(() => {
      const r = this.#put(key, integerBytes(addInteger(this.#row(key), delta, "sqlite")), {});
      return (r as { entry: Entry }).entry;
    });
  }

  async putAndRange(key: string, value: Uint8Array, opts: PutOptions, prefix: string): Promise<{ put: PutResult; range: RangeResult }> {
    return this.#tx(() => ({ put: this.#put(key, value, opts), range: this.#range(prefix, {}) }));
  }

  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    return this.#tx(() => this.#put(key, value, opts));
  }

  #put(key: string, value: Uint8Array, opts: PutOptions): PutResult {
    {
      const c = this.#checks(key, opts.ifVersion, opts.guard);
      if (!c.ok) return c;
      const lease = opts.lease === undefined ? null : Number(opts.lease);
      if (lease !== null && this.#q.leaseAlive.get(lease, this.#clock.now()) === undefined) {
        throw new ConcordError("NOT_HELD", `lease ${opts.lease} has expired or was revoked`, { engine: "sqlite" });
      }
      const rev = this.#nextRev();
      const createRev = c.current?.createRevision ?? rev;
      this.#q.upsert.run(key, value, createRev, rev, lease);
      this.#q.logPut.run(rev, key, value, createRev, lease);
      return {
        ok: true,
        entry: { key, value: value.slice(), createRevision: createRev, modRevision: rev, lease: opts.lease },
      };
    }
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return this.#tx(() => this.#deleteChecked(key, opts));
  }

  #deleteChecked(key: string, opts: DeleteOptions): DeleteResult {
    const c = this.#checks(key, opts.ifVersion, opts.guard);
    if (!c.ok) return c;
    if (!c.current) return { ok: false, current: undefined };
    return { ok: true, revision: this.#delete(c.current), previous: c.current };
  }

  /** The ops in one immediate transaction; the first that fails rolls it all back. */
  async batch(ops: BatchOp[]): Promise<BatchResult> {
    try {
      return await this.#tx((): BatchResult => {
        const results: Array<PutResult | DeleteResult> = [];
        ops.forEach((op, i) => {
          const r = op.type === "put" ? this.#put(op.key, op.value, op) : this.#deleteChecked(op.key, op);
          if (!r.ok) throw new BatchRefused(i, r);
          results.push(r);
        });
        return { ok: true, results };
      });
    } catch (e) {
      if (e instanceof BatchRefused) return { ok: false, failed: e.index, result: e.result };
      throw e;
    }
  }

  async deletePrefix(prefix: string): Promise<{ deleted: number; revision: number }> {
    return this.#tx(() => {
      const rows = this.#q.range.all(prefix, "", prefix + TOP, -1) as Row[];
      for (const r of rows) this.#delete(toEntry(r));
      return { deleted: rows.length, revision: this.#q.metaGet.get("revision") as number };
    });
  }

  async revision(): Promise<number> {
    return this.#retry(() => this.#q.metaGet.get("revision") as number);
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    const info = await this.#retry(() => this.#q.leaseGrant.run(ttlMs, this.#clock.now() + ttlMs));
    this.#scheduleSweep(0);
    return { id: String(info.lastInsertRowid), ttlMs };
  }

  async keepAlive(id: string): Promise<boolean> {
    const n = Number(id);
    const extended = await this.#retry(() => {
      const now = this.#clock.now();
      return this.#q.leaseExtend.run(now, n, now).changes === 1;
    });
    if (extended) return true;
    this.#scheduleSweep(0); // it may be expired but not yet swept: delete its keys now
    return false;
  }

  async revokeLease(id: string): Promise<void> {
    await this.#tx(() => this.#revoke(Number(id)));
  }

  async compact(revision: number): Promise<void> {
    await this.#tx(() => {
      const first = this.#q.metaGet.get("first_kept") as number;
      const rev = this.#q.metaGet.get("revision") as number;
      if (revision > first) this.#compact(Math.min(revision, rev + 1));
    });
  }

  async time(): Promise<number> {
    return this.#clock.now();
  }

  #changesSince(prefix: string, from: number, limit: number): WatchEvent[] {
    return this.#db.transaction(() => {
      const first = this.#q.metaGet.get("first_kept") as number;
      if (from < first) {
        throw new ConcordError(
          "COMPACTED",
          `revision ${from} has been compacted; the oldest kept is ${first}; re-read and watch from there`,
          { engine: "sqlite" },
        );
      }
      return (this.#q.changes.all(from, prefix, prefix + TOP, limit) as ChangeRow[]).map(
        (r): WatchEvent =>
          r.type === 1
            ? { type: "delete", key: r.key, revision: r.rev }
            : {
                type: "put",
                key: r.key,
                revision: r.rev,
                entry: {
                  key: r.key,
                  value: new Uint8Array(r.value!),
                  createRevision: r.create_rev!,
                  modRevision: r.rev,
                  lease: r.lease === null ? undefined : String(r.lease),
                },
              },
      );
    })();
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return changeLogWatch(
      {
        changesSince: (p, from, limit) => this.#retry(() => this.#changesSince(p, from, limit)),
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
    this.#fsWatcher?.close();
    this.#clock.clearTimeout(this.#sweepTimer);
    this.#clock.clearTimeout(this.#pollTimer);
    this.#changed.notify();
    this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

type DatabaseCtor = new (path: string, opts?: { timeout?: number }) => Database;

function loadBetterSqlite(): DatabaseCtor {
  try {
    return createRequire(import.meta.url)("better-sqlite3") as DatabaseCtor;
  } catch (e) {
    throw new ConcordError(
      "UNSUPPORTED",
      "the sqlite engine needs the package better-sqlite3: npm install better-sqlite3",
      { cause: e, engine: "sqlite" },
    );
  }
}

/**
 * A driver over one SQLite file (better-sqlite3, WAL). Every process on the host that opens the
 * same file shares one keyspace; lease expiry is judged by the host clock.
 */
export function createSqliteDriver(opts: SqliteDriverOptions): Driver {
  const Ctor = loadBetterSqlite();
  if (opts.path !== ":memory:") mkdirSync(dirname(resolve(opts.path)), { recursive: true });
  const db = new Ctor(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${opts.synchronous ?? "NORMAL"}`);
    db.exec(readFileSync(new URL("./schema.sql", import.meta.url), "utf8"));
    // From here on the driver retries busy writes itself, without blocking the thread (see #retry).
    db.pragma("busy_timeout = 0");
  } catch (e) {
    db.close();
    throw new ConcordError("UNAVAILABLE", `sqlite: cannot open ${opts.path}: ${(e as Error).message}`, {
      cause: e,
      engine: "sqlite",
    });
  }
  return new RuntimeDriver(new SqliteDriver(db, opts));
}

/** Thrown inside a batch's transaction to roll it back, carrying the op that was refused. */
class BatchRefused {
  readonly index: number;
  readonly result: PutResult | DeleteResult;
  constructor(index: number, result: PutResult | DeleteResult) {
    this.index = index;
    this.result = result;
  }
}
