import { ConcordError, closedError, invalid, isConcordError } from "../errors.js";
import { type Clock, systemClock } from "../internal/clock.js";
import { type PromRegistry, registerSyncMetrics } from "./metrics.js";
import type { Resolver } from "./resolvers.js";
import type { Replica } from "./replica.js";
import type { FilteringTransport, PullFilter, SyncReplica } from "./local-transport.js";
import type { Cursor, ReadResult, ReplicatedEvent, Transport, VectorClockJSON } from "./types.js";

/** What one round (or one live batch) did. Failures are in `errors`, not thrown. */
export interface SyncResult {
  /** Events the peer newly stored from us. */
  pushed: number;
  /** Events we newly stored from the peer. */
  pulled: number;
  /** Concurrent events on one aggregate found by either side's `receive` (resolved at read time by the resolver). */
  conflicts: number;
  errors: ConcordError[];
}

/** Durable home for the two cursors of a manager, e.g. a row in your database. Values are opaque strings. */
export interface CursorStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

/** Which events travel: by aggregate and type, or any predicate. */
export type SyncFilter = { aggregateIds?: string[]; types?: string[] } | ((event: ReplicatedEvent) => boolean);

export interface SyncManagerOptions {
  /**
   * Conflicts are resolved when state is read (`replica.state()`), never by writing events, so every
   * replica resolves alike. A replica built without a resolver adopts this one (so
   * `replica.state()` resolves as the sync was told); one built with its own keeps it.
   */
  resolver?: Resolver;
  /** Events per push request and per pull page. Default 500. */
  batchSize?: number;
  /** Pause between automatic rounds after a success. Default 5,000 ms. */
  intervalMs?: number;
  /**
   * Only these events travel, both ways. An object filter is applied by the peer on pull; a function on
   * our side. Events a filter left out are not fetched again later (the cursors move past them).
   */
  filter?: SyncFilter;
  /** Default `"both"`. */
  direction?: "both" | "push" | "pull";
  /** With `start()`, also keep a stream open so the peer's new events arrive without polling. Default false. */
  live?: boolean;
  /** Delay after a failed round: `initialMs` doubling up to `maxMs`. Default 500 ms and 60,000 ms. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Fraction of each delay taken off at random (0 to 1), so peers do not retry in step. Default 0.5. */
  jitter?: number;
  /** Where the push and pull cursors live across restarts. Default: memory only (a restart starts over, harmlessly: delivery is idempotent). */
  cursorStore?: CursorStore;
  /** Names this peer in `cursorStore` keys (`<nodeId>:<peer>:push` / `:pull`). Default `"peer"`. */
  peer?: string;
  clock?: Clock;
  /** Source of randomness for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Counters since the manager was made. */
export interface SyncMetrics {
  pushed: number;
  pulled: number;
  conflicts: number;
  /** Rounds (and live-stream connections) that ended in an error. */
  failures: number;
  /** When the last round without errors ended (clock ms), or a live batch arrived. */
  lastSyncAt: number | undefined;
  /** Milliseconds since `lastSyncAt` (how stale this replica may be); undefined before the first success. */
  lagMs: number | undefined;
  rounds: number;
}

const empty = (): SyncResult => ({ pushed: 0, pulled: 0, conflicts: 0, errors: [] });

function asConcord(e: unknown): ConcordError {
  if (isConcordError(e)) return e;
  return new ConcordError("UNAVAILABLE", `sync failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retryable: true });
}

/** `b` if it is past `a`; decimal cursors compare by value, others by arrival. */
function later(a: Cursor, b: Cursor): Cursor {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(b) >= BigInt(a) ? b : a;
  return b;
}

function covered(version: VectorClockJSON, e: ReplicatedEvent): boolean {
  const seen = version[e.origin];
  const own = e.clock[e.origin];
  return seen !== undefined && own !== undefined && seen >= own;
}

/**
 * Keeps one replica in step with one peer through a `Transport`.
 *
 * A round pushes what the peer lacks (our events after the push cursor, less those the peer's
 * version vector already covers), then pulls the peer's events after the pull cursor, page by page
 * until none are left, handing each page to `replica.receive`. Each cursor moves only after its page
 * was stored on the other side, so a round cut anywhere resumes where it stopped, and anything sent
 * twice is recognised by id. `start()` repeats rounds every `intervalMs`, backing off exponentially
 * with jitter while the peer fails, and with `live` keeps a stream open too.
 *
 * Version-vector skipping assumes each side holds a causally closed set of events, which holds
 * when everything syncs; with a `filter` the manager sends everything after the cursor instead.
 */
export class SyncManager {
  /** The `resolver` option, if given. */
  readonly resolver: Resolver | undefined;
  readonly #replica: SyncReplica;
  readonly #transport: Transport;
  readonly #batch: number;
  readonly #intervalMs: number;
  readonly #filter: SyncFilter | undefined;
  readonly #direction: "both" | "push" | "pull";
  readonly #live: boolean;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  readonly #cursors: CursorStore | undefined;
  readonly #peer: string;
  readonly #clock: Clock;
  readonly #random: () => number;

  #pushCursor: Cursor | undefined;
  #pullCursor: Cursor | undefined;
  #loaded: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #listeners = new Set<(r: SyncResult) => void>();
  #metrics = { pushed: 0, pulled: 0, conflicts: 0, failures: 0, lastSyncAt: undefined as number | undefined, rounds: 0 };
  #running = false;
  #closed = false;
  #timer: unknown;
  #failures = 0;
  #stopping = new AbortController();
  #liveLoop: Promise<void> | undefined;
  #wakeLive: (() => void) | undefined;

  constructor(replica: SyncReplica, transport: Transport, opts: SyncManagerOptions = {}) {
    this.#replica = replica;
    this.#transport = transport;
    if (opts.resolver !== undefined && typeof opts.resolver.resolve !== "function") throw invalid("resolver", "expected a Resolver (lastWriterWins(), fieldMerge(), keepBoth(), custom(fn))");
    this.resolver = opts.resolver;
    // The replica folds state; one built without a resolver takes the sync's (see Replica.adoptResolver).
    if (opts.resolver !== undefined) (replica as Partial<Replica>).adoptResolver?.(opts.resolver);
    this.#batch = positive("batchSize", opts.batchSize ?? 500);
    this.#intervalMs = positive("intervalMs", opts.intervalMs ?? 5_000);
    this.#initialMs = positive("backoff.initialMs", opts.backoff?.initialMs ?? 500);
    this.#maxMs = positive("backoff.maxMs", opts.backoff?.maxMs ?? 60_000);
    const jitter = opts.jitter ?? 0.5;
    if (!(jitter >= 0 && jitter <= 1)) throw invalid("jitter", `expected a fraction from 0 to 1, got ${jitter}`);
    this.#jitter = jitter;
    const dir = opts.direction ?? "both";
    if (dir !== "both" && dir !== "push" && dir !== "pull") throw invalid("direction", `expected "both", "push" or "pull", got ${JSON.stringify(dir)}`);
    this.#direction = dir;
    this.#filter = opts.filter;
    this.#live = opts.live ?? false;
    this.#cursors = opts.cursorStore;
    this.#peer = opts.peer ?? "peer";
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
  }

  /** Push then pull (as `direction` allows). Resolves with what happened; failures are in `errors`. */
  sync(): Promise<SyncResult> {
    return this.#round(this.#direction !== "pull", this.#direction !== "push");
  }

  /** Only the push half of a round. */
  push(): Promise<SyncResult> {
    return this.#round(true, false);
  }

  /** Only the pull half of a round. */
  pull(): Promise<SyncResult> {
    return this.#round(false, true);
  }

  /** Each round's (and each live batch's) result, errors included. Returns the unsubscribe function. */
  subscribe(fn: (result: SyncResult) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  metrics(): SyncMetrics {
    const m = this.#metrics;
    return { ...m, lagMs: m.lastSyncAt === undefined ? undefined : Math.max(0, this.#clock.now() - m.lastSyncAt) };
  }

  /**
   * Exposes {@link metrics} through a prom-client `Registry`, labelled with the `peer` option (see
   * `registerSyncMetrics`). Needs the optional package prom-client, else rejects with `UNSUPPORTED`.
   * Resolves to a function that unregisters this manager.
   */
  registerMetrics(registry: PromRegistry): Promise<() => void> {
    return registerSyncMetrics(registry, this, this.#peer);
  }

  /** The cursors as they stand (for inspection and tests). */
  async cursors(): Promise<{ push: Cursor; pull: Cursor }> {
    await this.#load();
    return { push: this.#pushCursor ?? "", pull: this.#pullCursor ?? "" };
  }

  /** Syncs now and then every `intervalMs` (backing off while the peer fails); with `live`, streams as well. */
  start(): void {
    if (this.#closed) throw closedError("the SyncManager");
    if (this.#running) return;
    this.#running = true;
    this.#stopping = new AbortController();
    this.#schedule(0);
    if (this.#live && this.#direction !== "push") this.#liveLoop = this.#runLive(this.#stopping.signal);
  }

  /** Stops automatic sync and the stream; resolves once the round in flight has finished. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopping.abort();
    this.#wakeLive?.();
    await this.#liveLoop;
    await this.#queue.catch(() => {});
  }

  /** `stop()`, and further calls fail with `CLOSED`. Does not close the replica or the transport. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.sync().then((r) => {
        if (!this.#running) return;
        if (r.errors.length === 0) {
          this.#failures = 0;
          this.#schedule(this.#intervalMs);
        } else {
          this.#schedule(this.#backoffMs());
        }
      });
    }, ms);
  }

  #backoffMs(): number {
    const exp = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#failures, 40));
    this.#failures++;
    return Math.max(0, Math.round(exp * (1 - this.#jitter * this.#random())));
  }

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      if (!this.#cursors) return;
      this.#pushCursor ??= (await this.#cursors.get(this.#key("push"))) ?? undefined;
      this.#pullCursor ??= (await this.#cursors.get(this.#key("pull"))) ?? undefined;
    })();
    return this.#loaded;
  }

  #key(which: "push" | "pull"): string {
    return `${this.#replica.nodeId}:${this.#peer}:${which}`;
  }

  async #save(which: "push" | "pull", cursor: Cursor): Promise<void> {
    if (which === "push") this.#pushCursor = cursor;
    else this.#pullCursor = cursor;
    await this.#cursors?.set(this.#key(which), cursor);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  #round(doPush: boolean, doPull: boolean): Promise<SyncResult> {
    if (this.#closed) return Promise.reject(closedError("the SyncManager"));
    return this.#serial(async () => {
      const r = empty();
      try {
        await this.#load();
        if (doPush) await this.#pushAll(r);
        if (doPull) await this.#pullAll(r);
      } catch (e) {
        r.errors.push(asConcord(e));
      }
      this.#metrics.rounds++;
      this.#record(r);
      return r;
    });
  }

  #record(r: SyncResult): void {
    const m = this.#metrics;
    m.pushed += r.pushed;
    m.pulled += r.pulled;
    m.conflicts += r.conflicts;
    if (r.errors.length > 0) m.failures++;
    else m.lastSyncAt = this.#clock.now();
    for (const fn of this.#listeners) {
      try {
        fn(r);
      } catch {
        // A listener's failure is its own; the manager keeps going.
      }
    }
  }

  #keep(e: ReplicatedEvent): boolean {
    const f = this.#filter;
    if (f === undefined) return true;
    if (typeof f === "function") return f(e);
    return (!f.aggregateIds || f.aggregateIds.includes(e.aggregateId)) && (!f.types || f.types.includes(e.type));
  }

  #pullFilter(): PullFilter {
    const f: PullFilter = { excludeOrigin: this.#replica.nodeId };
    if (this.#filter && typeof this.#filter !== "function") {
      if (this.#filter.aggregateIds) f.aggregateIds = this.#filter.aggregateIds;
      if (this.#filter.types) f.types = this.#filter.types;
    }
    return f;
  }

  #pullPage(since: Cursor, signal: AbortSignal | undefined): Promise<ReadResult> {
    const t = this.#transport as Partial<FilteringTransport>;
    if (t.supportsFilter === true) return (this.#transport as FilteringTransport).pull(since, this.#batch, signal, this.#pullFilter());
    return this.#transport.pull(since, this.#batch, signal);
  }

  async #pushAll(r: SyncResult): Promise<void> {
    // With a filter the peer may hold later events of an origin without earlier ones: send all, let ids dedupe.
    const peerVersion = this.#filter === undefined ? await this.#transport.version() : {};
    let since = this.#pushCursor ?? "";
    let page = await this.#replica.events({ since, limit: this.#batch });
    for (;;) {
      const send = page.events.filter((e) => this.#keep(e) && !covered(peerVersion, e));
      const done = page.events.length === 0 || page.cursor === since;
      // One push in flight at a time (the peer stores pages in order); the next page is read meanwhile.
      const sent = send.length > 0 ? this.#transport.push(send) : undefined;
      const ahead = done ? undefined : this.#replica.events({ since: page.cursor, limit: this.#batch });
      ahead?.catch(() => {});
      if (sent) {
        const res = await sent;
        r.pushed += res.appended.length;
        const c = (res as { conflicts?: unknown }).conflicts;
        if (Array.isArray(c)) r.conflicts += c.length;
      }
      if (page.cursor !== since) await this.#save("push", page.cursor);
      if (!ahead) return;
      since = page.cursor;
      page = await ahead;
    }
  }

  async #pullAll(r: SyncResult): Promise<void> {
    let since = this.#pullCursor ?? "";
    let page = await this.#pullPage(since, undefined);
    for (;;) {
      const done = page.events.length === 0 && page.cursor === since;
      // The next page is fetched while this one is stored; cursors still move in order.
      const ahead = done ? undefined : this.#pullPage(page.cursor, undefined);
      ahead?.catch(() => {});
      await this.#receive(page.events, r);
      if (page.cursor !== since) await this.#save("pull", later(since, page.cursor));
      if (!ahead) return;
      since = page.cursor;
      page = await ahead;
    }
  }

  async #receive(events: ReplicatedEvent[], r: SyncResult): Promise<void> {
    const keep = typeof this.#filter === "function" ? events.filter((e) => this.#keep(e)) : events;
    if (keep.length === 0) return;
    const res = await this.#replica.receive(keep);
    r.pulled += res.appended.length;
    r.conflicts += res.conflicts.length;
  }

  async #runLive(signal: AbortSignal): Promise<void> {
    const stream = this.#transport.stream?.bind(this.#transport);
    if (!stream) return;
    let failures = 0;
    while (!signal.aborted) {
      await this.#load();
      try {
        const onEvents = (events: ReplicatedEvent[], cursor: Cursor): void => {
          void this.#serial(async () => {
            const r = empty();
            try {
              await this.#receive(events, r);
              const since = this.#pullCursor ?? "";
              await this.#save("pull", later(since, cursor));
            } catch (e) {
              r.errors.push(asConcord(e));
            }
            this.#record(r);
          });
          failures = 0;
        };
        const t = this.#transport as Partial<FilteringTransport>;
        if (t.supportsFilter === true) await (this.#transport as FilteringTransport).stream(this.#pullCursor ?? "", onEvents, signal, this.#pullFilter());
        else await stream(this.#pullCursor ?? "", onEvents, signal);
      } catch (e) {
        failures++;
        this.#record({ ...empty(), errors: [asConcord(e)] });
      }
      if (signal.aborted) return;
      // Reconnect from the stored cursor after a pause that grows while the peer keeps failing.
      const exp = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(failures, 40));
      const wait = Math.round(exp * (1 - this.#jitter * this.#random()));
      await new Promise<void>((resolve) => {
        const t = this.#clock.setTimeout(resolve, wait);
        this.#wakeLive = () => {
          this.#clock.clearTimeout(t);
          resolve();
        };
      });
      this.#wakeLive = undefined;
    }
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw invalid(name, `expected a positive number, got ${v}`);
  return v;
}
