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

/** Neither happened before the other. */
export function concurrent(a: ReplicatedEvent, b: ReplicatedEvent): boolean {
  return a.id !== b.id && !happenedBefore(a, b) && !happenedBefore(b, a);
}

// Ties between events neither of which must come first: smaller HLC, then origin, then id.
function tieOrder(a: ReplicatedEvent, b: ReplicatedEvent): number {
  return compareWriters(a, b);
}

/**
 * The one deterministic order in which an aggregate's events are folded: causal (an event comes
 * after every event it has seen), ties between concurrent events broken by HLC, then origin, then
 * id. A pure function of the set of events: the order they arrived in plays no part.
 *
 * A node's events are causally chained, so at each step the candidates are the next event of each
 * origin; one is ready when, for every other origin, every event of that origin its clock has seen
 * is already placed. (Clocks no honest node produces can leave no candidate ready; then the
 * smallest candidate goes next, which is still deterministic.)
 */
export function causalOrder(events: readonly ReplicatedEvent[]): ReplicatedEvent[] {
  const byOrigin = new Map<string, ReplicatedEvent[]>();
  const unique = new Map<string, ReplicatedEvent>();
  for (const e of events) unique.set(e.id, e);
  for (const e of unique.values()) {
    const q = byOrigin.get(e.origin);
    if (q) q.push(e);
    else byOrigin.set(e.origin, [e]);
  }
  const queues = [...byOrigin.entries()].map(([origin, q]) => ({
    origin,
    q: q.sort((a, b) => (a.clock[origin] ?? 0) - (b.clock[origin] ?? 0) || tieOrder(a, b)),
    next: 0,
  }));
  const out: ReplicatedEvent[] = [];
  while (out.length < unique.size) {
    let best: ReplicatedEvent | undefined;
    let bestQueue: (typeof queues)[number] | undefined;
    let fallback: ReplicatedEvent | undefined;
    let fallbackQueue: (typeof queues)[number] | undefined;
    for (const cand of queues) {
      const e = cand.q[cand.next];
      if (e === undefined) continue;
      if (!fallback || tieOrder(e, fallback) < 0) {
        fallback = e;
        fallbackQueue = cand;
      }
      const ready = queues.every((other) => {
        if (other === cand) return true;
        const head = other.q[other.next];
        return head === undefined || (head.clock[other.origin] ?? 0) > (e.clock[other.origin] ?? 0);
      });
      if (ready && (!best || tieOrder(e, best) < 0)) {
        best = e;
        bestQueue = cand;
      }
    }
    const pick = best ?? fallback!;
    const from = bestQueue ?? fallbackQueue!;
    out.push(pick);
    from.next++;
  }
  return out;
}

/**
 * Folds one aggregate's events with `projection` in {@link causalOrder}, asking `resolver` about
 * every event that has concurrent ones. A pure function of the event set.
 */
export function fold<S>(events: readonly ReplicatedEvent[], projection: Projection<S>, resolver: Resolver = lastWriterWins()): Folded<S> {
  const ordered = causalOrder(events);
  const result: Folded<S> = { state: undefined, order: [], applied: [], skipped: [], conflicts: [] };
  if (ordered.length === 0) return result;
  let state = projection.initial();
  for (const e of ordered) {
    result.order.push(e.id);
    const others = ordered.filter((o) => concurrent(e, o));
    let use: ReplicatedEvent | null = e;
    if (others.length > 0) {
      // The resolver gets copies: whatever it does to them, the next event sees the originals.
      use = resolver.resolve(structuredClone(e), others.map((o) => structuredClone(o)));
      result.conflicts.push({
        event: e.id,
        concurrentWith: others.map((o) => o.id),
        outcome: use === null ? "skipped" : canonicalJson(use.data) === canonicalJson(e.data) ? "applied" : "merged",
      });
    }
    if (use === null) {
      result.skipped.push(e.id);
      continue;
    }
    state = projection.apply(state, use);
    result.applied.push(e.id);
  }
  result.state = state;
  return result;
}
