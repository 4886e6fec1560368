import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type {
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
  BatchOp,
  BatchResult,
} from "../../driver/types.js";
import { closedError, ConcordError } from "../../errors.js";
import { type Clock, systemClock } from "../../internal/clock.js";
import { redisError, type SocketErrors } from "./errors.js";
import type { KeyspaceKeys } from "./keys.js";
import { type Changes, toChanges, toDeleteResult, toEntry, toPutResult, toRangeResult } from "./replies.js";
import { type Arg, type Op, type Reply, Scripts } from "./scripts.js";
import { LeaseSweeper } from "./sweeper.js";
import { LogTail } from "./tail.js";
import { redisWatch } from "./watch.js";

/** Everything {@link RedisDriver} is built from; see `createRedisDriver` for the public options. */
export interface RedisDriverParts {
  client: Redis;
  /** Whether close() quits `client` (false when the user lent it). */
  ownsClient: boolean;
  keys: KeyspaceKeys;
  /** host:port, for messages (never the URL: it may hold a password). */
  address: string;
  /** Socket errors of `client`, when the driver owns it. */
  socketErrors: SocketErrors | undefined;
  /** Judges leases instead of the server's TIME (tests only); also paces the sweeper. */
  leaseClock: Clock | undefined;
  historyLimit: number;
}

/** Leases expired per sweep script, so one sweep never holds the server for long. */
const SWEEP_LEASES = 64;
/** Log entries one `changes` script scans at most before it lets other commands run. */
const SCAN_LIMIT = 4096;

const EMPTY = new Uint8Array();

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** A batch's ops as scripts/batch.lua reads them: their count, a header line each, and their strings in a row. */
function packBatch(ops: BatchOp[]): Arg[] {
  let head = "";
  let size = 0;
  const strings: Array<string | Uint8Array> = [];
  for (const o of ops) {
    const value = o.type === "put" ? o.value : EMPTY;
    const lease = o.type === "put" ? (o.lease ?? "") : "";
    const gk = o.guard?.key ?? "";
    const kb = Buffer.byteLength(o.key);
    const lb = Buffer.byteLength(lease);
    const gb = Buffer.byteLength(gk);
    head += `${o.type === "put" ? "p" : "d"} ${o.ifVersion ?? ""} ${o.guard?.version ?? ""} ${kb} ${value.length} ${lb} ${gb}\n`;
    strings.push(o.key, value, lease, gk);
    size += kb + value.length + lb + gb;
  }
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  for (const s of strings) {
    if (typeof s === "string") at += body.write(s, at);
    else {
      body.set(s, at);
      at += s.length;
    }
  }
  return [ops.length, head, body];
}

/**
 * The Driver contract over one Redis keyspace: every operation is one atomic Lua script; the
 * revision is a counter the scripts increment; every write appends to a stream whose entry IDs
 * are revisions, which is what watch replays and tails.
 */
export class RedisDriver implements Driver {
  readonly engine = "redis";
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #keys: KeyspaceKeys;
  readonly #address: string;
  readonly #socketErrors: SocketErrors | undefined;
  readonly #scripts: Scripts;
  readonly #leaseClock: Clock | undefined;
  readonly #historyLimit: string;
  readonly #sweeper: LeaseSweeper;
  readonly #tail: LogTail;
  readonly #closed = new AbortController();
  /** Makes lease ids unique to this client even if the server loses its lease counter. */
  readonly #nonce = randomBytes(4).toString("hex");

  constructor(parts: RedisDriverParts) {
    this.#client = parts.client;
    this.#ownsClient = parts.ownsClient;
    this.#keys = parts.keys;
    this.#address = parts.address;
    this.#socketErrors = parts.socketErrors;
    this.#leaseClock = parts.leaseClock;
    this.#historyLimit = String(parts.historyLimit);
    this.#scripts = new Scripts(parts.client);
    this.#sweeper = new LeaseSweeper(() => this.#sweep(), parts.leaseClock ?? systemClock);
    // A subscribed connection can serve nothing else; retrying forever is right for it (close ends it).
    const tailConnection = (): Redis => {
      const conn = parts.client.duplicate({
        maxRetriesPerRequest: null,
        connectionName: "concord-watch",
        lazyConnect: false,
        autoResubscribe: false, // the tail subscribes itself, then reads where the keyspace is
      });
      conn.on("error", () => undefined); // the tail retries by itself; the console need not hear of it
      return conn;
    };
    // Scripts see KEYS[1] with the client's keyPrefix; a channel gets none from ioredis.
    const channel = `${parts.client.options.keyPrefix ?? ""}${parts.keys.changes}`;
    this.#tail = new LogTail({ connect: tailConnection, channel, log: parts.keys.log, revision: () => this.revision() }, systemClock);
    this.#sweeper.within(0);
  }

  /** Runs a script; failures become ConcordErrors (CLOSED once the driver is closed). */
  async #run(op: Op, ...args: Arg[]): Promise<Reply> {
    const now = this.#leaseClock ? String(this.#leaseClock.now()) : "";
    try {
      return await this.#scripts.run(op, this.#keys.base, [now, this.#historyLimit, ...args]);
    } catch (e) {
      throw this.#error(e);
    }
  }

  #error(e: unknown): Error {
    if (this.#closed.signal.aborted) return closedError("the redis driver");
    return redisError(e, this.#address, this.#socketErrors?.last);
  }

  async #sweep(): Promise<number> {
    const r = (await this.#run("sweep", SWEEP_LEASES)) as Reply[];
    return Number(r[1]);
  }

  async get(key: string): Promise<Entry | undefined> {
    return toEntry(await this.#run("get", key), "get");
  }

  async range(prefix: string, opts: RangeOptions = {}): Promise<RangeResult> {
    const after = opts.startAfter;
    // Byte order, as Redis compares: the greater of "from the prefix" and "after startAfter".
    const min = after !== undefined && Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0 ? `(${after}` : `[${prefix}`;
    return toRangeResult(await this.#run("range", prefix, min, opts.limit ?? 0));
  }

  #putArgs(key: string, value: Uint8Array, opts: PutOptions): Arg[] {
    const g = opts.guard;
    return [key, asBuffer(value), opts.ifVersion ?? "", opts.lease ?? "", g?.key ?? "", g?.version ?? ""];
  }

  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const r = (await this.#run("put", ...this.#putArgs(key, value, opts), "0", "")) as Reply[];
    return toPutResult(r[0] ?? null, key, value, opts.lease);
  }

  async putAndRange(key: string, value: Uint8Array, opts: PutOptions, prefix: string): Promise<{ put: PutResult; range: RangeResult }> {
    const r = (await this.#run("put", ...this.#putArgs(key, value, opts), "1", prefix)) as Reply[];
    return { put: toPutResult(r[0] ?? null, key, value, opts.lease), range: toRangeResult(r[1] ?? null) };
  }

  /** Puts and deletes, all or none, in one script (see scripts/batch.lua). */
  async batch(ops: BatchOp[]): Promise<BatchResult> {
    const r = (await this.#run("batch", ...packBatch(ops))) as Reply[];
    const result = (o: BatchOp, reply: Reply): PutResult | DeleteResult => (o.type === "put" ? toPutResult(reply, o.key, o.value, o.lease) : toDeleteResult(reply));
    if (Number(r[0]) === 1) return { ok: true, results: ops.map((o, i) => result(o, r[i + 1]!)) };
    const i = Number(r[1]) - 1;
    return { ok: false, failed: i, result: result(ops[i]!, r[2]!) };
  }

  async increment(key: string, delta: number): Promise<Entry> {
    const r = await this.#run("increment", key, delta);
    if (Array.isArray(r) && r.length === 1) {
      if (String(r[0]) === "OVERFLOW") throw new ConcordError("INVALID_ARGUMENT", "delta: the counter would leave the safe integer range", { engine: "redis" });
      throw new ConcordError("CORRUPT", `${key} does not hold an integer`, { engine: "redis" });
    }
    return toEntry(r, "increment")!;
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const g = opts.guard;
    return toDeleteResult(await this.#run("delete", key, opts.ifVersion ?? "", g?.key ?? "", g?.version ?? ""));
  }

  async deletePrefix(prefix: string): Promise<{ deleted: number; revision: number }> {
    const r = (await this.#run("delete-prefix", prefix)) as Reply[];
    return { deleted: Number(r[0]), revision: Number(r[1]) };
  }

  async revision(): Promise<number> {
    return Number(await this.#run("revision"));
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    const id = String(await this.#run("lease-grant", ttlMs, this.#nonce));
    this.#sweeper.within(ttlMs);
    return { id, ttlMs };
  }

  async keepAlive(id: string): Promise<boolean> {
    return Number(await this.#run("lease-keep-alive", id)) === 1;
  }

  async revokeLease(id: string): Promise<void> {
    await this.#run("lease-revoke", id);
  }

  async compact(revision: number): Promise<void> {
    await this.#run("compact", revision);
  }

  async time(): Promise<number> {
    if (this.#leaseClock) return this.#leaseClock.now();
    try {
      const [s, us] = await this.#client.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    } catch (e) {
      throw this.#error(e);
    }
  }

  async #changes(prefix: string, from: number, limit: number): Promise<Changes> {
    return toChanges(await this.#run("changes", from, limit, prefix, SCAN_LIMIT));
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return redisWatch(
      {
        changes: (p, from, limit) => this.#changes(p, from, limit),
        revision: () => this.revision(),
        tail: this.#tail,
        closed: this.#closed.signal,
        clock: systemClock,
      },
      prefix,
      opts,
    );
  }

  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#sweeper.stop();
    await this.#tail.stop();
    if (!this.#ownsClient) return;
    // quit lets replies in flight arrive; a server that does not answer is cut off.
    const quit = this.#client.quit().then(
      () => true,
      () => false,
    );
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref());
    if (!(await Promise.race([quit, timer]))) this.#client.disconnect();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
