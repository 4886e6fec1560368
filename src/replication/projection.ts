import { canonicalJson } from "./event.js";
import { compareWriters, lastWriterWins, type Resolver } from "./resolvers.js";
import type { Json, ReplicatedEvent } from "./types.js";

/** Folds the events of one aggregate into its current state. Must be pure and deterministic. */
export interface Projection<S> {
  initial: () => S;
  apply: (state: S, event: ReplicatedEvent) => S;
}

/** One event of an aggregate that was concurrent with others, and what the resolver made of it. */
export interface AggregateConflict {
  /** The event's id. */
  event: string;
  /** Ids of the events of the same aggregate concurrent with it, in fold order. */
  concurrentWith: string[];
  /** Applied as it was, applied with changed data (field merge), or skipped. */
  outcome: "applied" | "merged" | "skipped";
}

/** The state of one aggregate and how it was reached. */
export interface Folded<S> {
  /** `undefined` when the aggregate has no events. */
  state: S | undefined;
  /** Event ids in the order they were folded (skipped ones included). */
  order: string[];
  applied: string[];
  skipped: string[];
  conflicts: AggregateConflict[];
}

/**
 * The default projection: object `data` is merged into the state field by field, any other `data`
 * replaces it.
 */
export function mergeProjection(): Projection<Json> {
  return {
    initial: () => ({}),
    apply: (state, e) => (isObject(state) && isObject(e.data) ? { ...state, ...e.data } : e.data),
  };
}

function isObject(x: Json): x is { [key: string]: Json } {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Whether `a` happened before `b`: `b`'s clock has seen `a`'s own entry. Every event's clock counts
 * the event itself in its origin's entry, so this one lookup decides it (no full clock comparison).
 */
export function happenedBefore(a: ReplicatedEvent, b: ReplicatedEvent): boolean {
  if (a.id === b.id) return false;
  const own = a.clock[a.origin] ?? 0;
  if (a.origin === b.origin) return own < (b.clock[b.origin] ?? 0);
  return (b.clock[a.origin] ?? 0) >= own;
}

/** Neither happened before the other. Events of one origin are never concurrent: a node's events form a chain. */
export function concurrent(a: ReplicatedEvent, b: ReplicatedEvent): boolean {
  return a.origin !== b.origin && !happenedBefore(a, b) && !happenedBefore(b, a);
}

/** Each origin's events (deduplicated by id), in the order of that origin's own clock entry. */
function originQueues(events: readonly ReplicatedEvent[]): Map<string, ReplicatedEvent[]> {
  const unique = new Map<string, ReplicatedEvent>();
  for (const e of events) unique.set(e.id, e);
  const byOrigin = new Map<string, ReplicatedEvent[]>();
  for (const e of unique.values()) {
    const q = byOrigin.get(e.origin);
    if (q) q.push(e);
    else byOrigin.set(e.origin, [e]);
  }
  for (const [origin, q] of byOrigin) q.sort((a, b) => (a.clock[origin] ?? 0) - (b.clock[origin] ?? 0) || compareWriters(a, b));
  return byOrigin;
}

/**
 * The one deterministic order in which an aggregate's events are folded: causal (an event comes
 * after every event it has seen), ties between concurrent events broken by HLC, then origin, then
 * id. A pure function of the set of events: the order they arrived in plays no part.
 */
export function causalOrder(events: readonly ReplicatedEvent[]): ReplicatedEvent[] {
  return orderQueues(originQueues(events));
}

// A node's events are causally chained, so at each step the candidates are the next event of each
// origin; one is ready when, for every other origin, every event of that origin its clock has seen
// is already placed. (Clocks no honest node produces can leave no candidate ready; then the smallest
// candidate goes next, which is still deterministic.)
function orderQueues(byOrigin: ReadonlyMap<string, ReplicatedEvent[]>): ReplicatedEvent[] {
  const queues = [...byOrigin.entries()].map(([origin, q]) => ({ origin, q, next: 0 }));
  const total = queues.reduce((n, x) => n + x.q.length, 0);
  const out: ReplicatedEvent[] = [];
  while (out.length < total) {
    let best: (typeof queues)[number] | undefined;
    let fallback: (typeof queues)[number] | undefined;
    for (const cand of queues) {
      const e = cand.q[cand.next];
      if (e === undefined) continue;
      if (!fallback || compareWriters(e, fallback.q[fallback.next]!) < 0) fallback = cand;
      const ready = queues.every((other) => {
        if (other === cand) return true;
        const head = other.q[other.next];
        return head === undefined || (head.clock[other.origin] ?? 0) > (e.clock[other.origin] ?? 0);
      });
      if (ready && (!best || compareWriters(e, best.q[best.next]!) < 0)) best = cand;
    }
    const from = (best ?? fallback)!;
    out.push(from.q[from.next]!);
    from.next++;
  }
  return out;
}

/** The first index at which `pred` holds, for a predicate false on a prefix and true after it. */
function firstIndex<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(xs[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The events concurrent with `e`, from each other origin's chain: those past what `e` has seen of
// that origin and before the first that has seen `e`, a contiguous run found by two binary searches
// (a chain's clocks only grow). Costs O(origins log n) plus the answer, not a scan of the aggregate.
function concurrentWith(e: ReplicatedEvent, queues: ReadonlyMap<string, ReplicatedEvent[]>, position: ReadonlyMap<string, number>): ReplicatedEvent[] {
  const own = e.clock[e.origin] ?? 0;
  const out: ReplicatedEvent[] = [];
  for (const [origin, q] of queues) {
    if (origin === e.origin) continue;
    const seen = e.clock[origin] ?? 0;
    const lo = firstIndex(q, (o) => (o.clock[origin] ?? 0) > seen);
    const hi = firstIndex(q, (o) => (o.clock[e.origin] ?? 0) >= own);
    for (let i = lo; i < hi; i++) out.push(q[i]!);
  }
  return out.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
}

/**
 * Folds one aggregate's events with `projection` in {@link causalOrder}, asking `resolver` about
 * every event that has concurrent ones. A pure function of the event set. The resolver sees the
 * events themselves and must not modify them; the projection gets its own copy of each.
 */
export function fold<S>(events: readonly ReplicatedEvent[], projection: Projection<S>, resolver: Resolver = lastWriterWins()): Folded<S> {
  const queues = originQueues(events);
  const ordered = orderQueues(queues);
  const position = new Map(ordered.map((e, i) => [e.id, i]));
  const result: Folded<S> = { state: undefined, order: [], applied: [], skipped: [], conflicts: [] };
  if (ordered.length === 0) return result;
  let state = projection.initial();
  for (const e of ordered) {
    result.order.push(e.id);
    const others = concurrentWith(e, queues, position);
    let use: ReplicatedEvent | null = e;
    if (others.length > 0) {
      use = resolver.resolve(e, others);
      result.conflicts.push({
        event: e.id,
        concurrentWith: others.map((o) => o.id),
        outcome: use === null ? "skipped" : use === e || canonicalJson(use.data) === canonicalJson(e.data) ? "applied" : "merged",
      });
    }
    if (use === null) {
      result.skipped.push(e.id);
      continue;
    }
    state = projection.apply(state, structuredClone(use));
    result.applied.push(e.id);
  }
  result.state = state;
  return result;
}
