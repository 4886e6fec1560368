import { randomUUID } from "node:crypto";
import { closedError, invalid } from "../errors.js";
import { type Clock, systemClock } from "../internal/clock.js";
import { HybridLogicalClock } from "../time/hlc.js";
import { canonicalJson, checkJson, checkName, idCollisionError, validateEvent } from "./event.js";
import { concurrent, fold, happenedBefore, type Folded, mergeProjection, type Projection } from "./projection.js";
import { lastWriterWins, type Resolver } from "./resolvers.js";
import type { Cursor, EventStore, Json, NewEvent, ReadOptions, ReadResult, ReplicatedEvent, VectorClockJSON } from "./types.js";
import { VectorClock } from "./vector-clock.js";

export interface ReplicaOptions<S = Json> {
  /** This node's id: the `origin` of the events it creates and its entry in vector clocks. Unique per store. */
  nodeId: string;
  /** Where the events live. The replica owns it: `close()` closes it. */
  store: EventStore;
  /** Folds an aggregate's events into its state for `state()`. Default {@link mergeProjection}. */
  projection?: Projection<S>;
  /** Decides concurrent events in `state()`. Default {@link lastWriterWins}. */
  resolver?: Resolver;
  /** The wall clock of the hybrid logical clock. Default the system clock. */
  clock?: Clock;
  /** Received events whose clock has more entries are refused with `TOO_LARGE`. Default 1000. */
  maxClockEntries?: number;
  /**
   * A received event whose HLC is further ahead of this clock than this (ms) is stored but does not
   * move this node's HLC, so one peer with a wrong clock cannot drag every node's timestamps into the
   * future. Default 60,000.
   */
  maxDriftMs?: number;
}

/** A received event that is concurrent (by vector clock) with an event of the same aggregate already held. */
export interface Conflict {
  aggregateId: string;
  /** The received event. */
  event: ReplicatedEvent;
  /** Ids of the held (or earlier in the same batch) events of that aggregate concurrent with it. */
  concurrentWith: string[];
}

export interface ReceiveResult {
  /** Ids newly stored, in order. */
  appended: string[];
  /** Ids already held with identical content. */
  duplicates: string[];
  /** Newly stored events concurrent with held events of the same aggregate. */
  conflicts: Conflict[];
}

export type ReplicaListener = (events: ReplicatedEvent[], cursor: Cursor) => void;

// Aggregates whose frontier is kept for conflict detection; the least recently used are dropped.
const FRONTIER_CACHE = 10_000;

const NEW_EVENT_FIELDS: ReadonlySet<string> = new Set(["id", "type", "aggregateId", "data", "metadata"]);

/**
 * One node of an offline-first event log (DESIGN §6): appends local events stamped with this node's
 * vector clock and hybrid logical time, receives events from peers idempotently, and folds an
 * aggregate's events into state in one deterministic order so that replicas holding the same events
 * hold the same state.
 *
 * Appends and receives of one replica are serialized. One replica per store and node id: two
 * writers with one node id would reuse clock entries.
 */
export class Replica<S = Json> {
  readonly nodeId: string;
  readonly store: EventStore;
  readonly #projection: Projection<S>;
  #resolver: Resolver;
  #resolverGiven: boolean;
  readonly #hlc: HybridLogicalClock;
  readonly #maxClockEntries: number;
  readonly #listeners = new Set<ReplicaListener>();
  readonly #frontiers = new Map<string, ReplicatedEvent[]>();
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(opts: ReplicaOptions<S>) {
    if (typeof opts !== "object" || opts === null) throw invalid("opts", "expected { nodeId, store }");
    this.nodeId = checkName("nodeId", opts.nodeId);
    const store = opts.store as Partial<EventStore> | undefined;
    if (typeof store !== "object" || store === null || typeof store.append !== "function" || typeof store.read !== "function" || typeof store.version !== "function") {
      throw invalid("store", "expected an EventStore (MemoryEventStore, SqliteEventStore, PostgresEventStore or your own)");
    }
    this.store = opts.store;
    if (opts.projection !== undefined && (typeof opts.projection.initial !== "function" || typeof opts.projection.apply !== "function")) {
      throw invalid("projection", "expected { initial: () => state, apply: (state, event) => state }");
    }
    this.#projection = opts.projection ?? (mergeProjection() as unknown as Projection<S>);
    if (opts.resolver !== undefined && typeof opts.resolver.resolve !== "function") throw invalid("resolver", "expected a Resolver (lastWriterWins(), fieldMerge(), keepBoth(), custom(fn))");
    this.#resolver = opts.resolver ?? lastWriterWins();
    this.#resolverGiven = opts.resolver !== undefined;
    const max = opts.maxClockEntries ?? VectorClock.MAX_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 1) throw invalid("maxClockEntries", `expected a positive integer, got ${String(max)}`);
    this.#maxClockEntries = max;
    this.#hlc = new HybridLogicalClock(this.nodeId, { clock: opts.clock ?? systemClock, ...(opts.maxDriftMs === undefined ? {} : { maxDriftMs: opts.maxDriftMs }) });
  }

  /** The resolver `state()` and `project()` use unless given one per call. */
  get resolver(): Resolver {
    return this.#resolver;
  }

  /**
   * Takes `resolver` as this replica's default if it was built without one (what a `SyncManager`
   * given `{ resolver }` does, so that `replica.state()` resolves the way the sync was told to);
   * a resolver given to the constructor is kept. Returns the one in force.
   */
  adoptResolver(resolver: Resolver): Resolver {
    if (typeof resolver?.resolve !== "function") throw invalid("resolver", "expected a Resolver (lastWriterWins(), fieldMerge(), keepBoth(), custom(fn))");
    if (!this.#resolverGiven) {
      this.#resolver = resolver;
      this.#resolverGiven = true;
    }
    return this.#resolver;
  }

  /**
   * Appends a local event: fills in `id` (a random UUID unless given), `origin` (this node), `clock`
   * (everything the store has seen, with this node's entry incremented) and `hlc`. With a given `id`
   * already stored with the same type, aggregate, data and metadata, resolves with the stored event
   * (idempotent); with different content, rejects as an id collision (see `isIdCollision`).
   */
  append<D extends Json = Json>(e: NewEvent<D>): Promise<ReplicatedEvent<D>> {
    return this.#serial(async () => {
      this.#checkOpen();
      if (typeof e !== "object" || e === null || Array.isArray(e)) throw invalid("event", "expected { type, aggregateId, data, metadata?, id? }");
      for (const k of Object.keys(e)) if (!NEW_EVENT_FIELDS.has(k)) throw invalid(`event.${k}`, "unknown field; origin, clock and hlc are filled in by the replica");
      const type = checkName("event.type", e.type);
      const aggregateId = checkName("event.aggregateId", e.aggregateId);
      if (e.data === undefined) throw invalid("event.data", "missing; use null for an event without data");
      const data = structuredClone(checkJson("event.data", e.data));
      const metadata = structuredClone(checkJson("event.metadata", e.metadata ?? {})) as Record<string, Json>;
      if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) throw invalid("event.metadata", "expected an object");
      const id = e.id === undefined ? randomUUID() : checkName("event.id", e.id);
      if (e.id !== undefined) {
        const held = await this.store.get(id);
        if (held) {
          const same = held.type === type && held.aggregateId === aggregateId && canonicalJson(held.data) === canonicalJson(data) && canonicalJson(held.metadata) === canonicalJson(metadata);
          if (same) return held as ReplicatedEvent<D>;
          throw idCollisionError(id, "event.id");
        }
      }
      const clock = new VectorClock(await this.store.version()).increment(this.nodeId).toJSON();
      const event: ReplicatedEvent = { id, type, aggregateId, data, metadata, origin: this.nodeId, clock, hlc: HybridLogicalClock.encode(this.#hlc.now()) };
      await this.store.append([event]);
      const cached = this.#frontiers.get(aggregateId);
      if (cached) this.#keepFrontier(aggregateId, advance(cached, event));
      await this.#notify([event]);
      return structuredClone(event) as ReplicatedEvent<D>;
    });
  }

  /**
   * Stores events received from a peer. Every event is validated first (`INVALID_ARGUMENT` naming
   * e.g. `events[3].clock`, `TOO_LARGE` for too many clock entries; nothing is stored); an id held
   * with different content rejects the whole batch as an id collision. Idempotent: events already
   * held are reported as duplicates. Moves this node's HLC past the received timestamps.
   */
  receive(events: readonly unknown[]): Promise<ReceiveResult> {
    return this.#serial(async () => {
      this.#checkOpen();
      if (!Array.isArray(events)) throw invalid("events", "expected an array of events");
      const batch = events.map((x, i) => validateEvent(x, `events[${i}]`, { maxClockEntries: this.#maxClockEntries }));
      if (batch.length === 0) return { appended: [], duplicates: [], conflicts: [] };
      const held = await this.store.has([...new Set(batch.map((e) => e.id))]);
      const { conflicts, frontiers } = await this.#conflicts(batch.filter((e) => !held.has(e.id)));
      const r = await this.store.append(batch);
      for (const [aggregateId, f] of frontiers) this.#keepFrontier(aggregateId, f);
      for (const e of batch) {
        try {
          this.#hlc.update(HybridLogicalClock.decode(e.hlc));
        } catch {
          // Too far ahead of this clock (maxDriftMs): stored, but it does not move our HLC.
        }
      }
      const appendedIds = new Set(r.appended);
      const fresh: ReplicatedEvent[] = [];
      const seen = new Set<string>();
      for (const e of batch) {
        if (appendedIds.has(e.id) && !seen.has(e.id)) {
          seen.add(e.id);
          fresh.push(e);
        }
      }
      if (fresh.length > 0) await this.#notify(fresh);
      return { appended: r.appended, duplicates: r.duplicates, conflicts: conflicts.filter((c) => appendedIds.has(c.event.id)) };
    });
  }

  /** Events in this store's append order from a cursor (see `EventStore.read`). */
  async events(opts?: ReadOptions): Promise<ReadResult> {
    this.#checkOpen();
    return this.store.read(opts);
  }

  /** Everything this replica has seen: the merge of the clocks of its events. */
  async version(): Promise<VectorClockJSON> {
    this.#checkOpen();
    return this.store.version();
  }

  /**
   * The state of one aggregate: its events folded by the projection in causal order (ties by HLC,
   * then origin), concurrent events decided by the resolver. `undefined` when it has no events.
   */
  async state<T = S>(aggregateId: string, opts: { resolver?: Resolver } = {}): Promise<T | undefined> {
    return (await this.project(aggregateId, opts)).state as T | undefined;
  }

  /** Like {@link state}, with the fold order, what was applied or skipped, and the conflicts found. */
  async project(aggregateId: string, opts: { resolver?: Resolver } = {}): Promise<Folded<S>> {
    this.#checkOpen();
    checkName("aggregateId", aggregateId);
    const events = await this.store.byAggregate(aggregateId);
    return fold(events, this.#projection, opts.resolver ?? this.#resolver);
  }

  /**
   * Calls `fn(events, cursor)` after every local append and every receive that stored something,
   * with the new events and the store's head. Returns the unsubscribe function. A listener that
   * throws is ignored.
   */
  subscribe(fn: ReplicaListener): () => void {
    if (typeof fn !== "function") throw invalid("fn", "expected a function (events, cursor) => void");
    this.#checkOpen();
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }

  /** Idempotent: drops listeners, waits for appends under way, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#tail.catch(() => undefined);
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // Conflicts are found against each aggregate's frontier (its events no other of its events
  // follows), cached per aggregate: a received event that follows the whole frontier conflicts with
  // nothing held, one concurrent with a frontier event conflicts, and only one that arrives after
  // events that followed it needs the aggregate read in full. Events stored behind this replica's
  // back (another process on the same store) are only seen when an aggregate is first loaded.
  // Returns the frontiers as they will be once the batch is stored, to keep only if it is.
  async #conflicts(fresh: readonly ReplicatedEvent[]): Promise<{ conflicts: Conflict[]; frontiers: Map<string, ReplicatedEvent[]> }> {
    const conflicts: Conflict[] = [];
    const frontiers = new Map<string, ReplicatedEvent[]>();
    const earlier = new Map<string, ReplicatedEvent>();
    for (const e of fresh) {
      if (earlier.has(e.id)) continue;
      const frontier = frontiers.get(e.aggregateId) ?? (await this.#frontier(e.aggregateId));
      let against = frontier.filter((f) => concurrent(f, e));
      if (against.length === 0 && frontier.some((f) => happenedBefore(e, f))) {
        const all = [...(await this.store.byAggregate(e.aggregateId)), ...[...earlier.values()].filter((x) => x.aggregateId === e.aggregateId)];
        against = all.filter((h) => concurrent(h, e));
      }
      earlier.set(e.id, e);
      if (against.length > 0) conflicts.push({ aggregateId: e.aggregateId, event: e, concurrentWith: against.map((h) => h.id) });
      frontiers.set(e.aggregateId, advance(frontier, e));
    }
    return { conflicts, frontiers };
  }

  async #frontier(aggregateId: string): Promise<ReplicatedEvent[]> {
    const cached = this.#frontiers.get(aggregateId);
    if (cached) {
      this.#frontiers.delete(aggregateId); // most recently used last: the oldest is dropped first
      this.#frontiers.set(aggregateId, cached);
      return cached;
    }
    let f: ReplicatedEvent[] = [];
    for (const e of await this.store.byAggregate(aggregateId)) f = advance(f, e);
    this.#keepFrontier(aggregateId, f);
    return f;
  }

  #keepFrontier(aggregateId: string, f: ReplicatedEvent[]): void {
    this.#frontiers.delete(aggregateId);
    this.#frontiers.set(aggregateId, f);
    if (this.#frontiers.size > FRONTIER_CACHE) this.#frontiers.delete(this.#frontiers.keys().next().value!);
  }

  async #notify(events: ReplicatedEvent[]): Promise<void> {
    if (this.#listeners.size === 0) return;
    const cursor = await this.store.head();
    for (const fn of [...this.#listeners]) {
      try {
        fn(structuredClone(events), cursor);
      } catch {
        // A listener's failure is its own; the append has happened.
      }
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError("replica");
  }
}

/** The frontier of an aggregate after `e` is added: `e` joins unless something held follows it, and replaces what it follows. */
function advance(frontier: readonly ReplicatedEvent[], e: ReplicatedEvent): ReplicatedEvent[] {
  if (frontier.some((x) => x.id === e.id || happenedBefore(e, x))) return [...frontier];
  // Only the id, origin and clock matter here: keep no data alive in the cache.
  const slim: ReplicatedEvent = { id: e.id, type: e.type, aggregateId: e.aggregateId, data: null, metadata: {}, origin: e.origin, clock: e.clock, hlc: e.hlc };
  return [...frontier.filter((x) => !happenedBefore(x, e)), slim];
}
