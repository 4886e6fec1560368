import { invalid } from "../errors.js";
import type { Json, ReplicatedEvent } from "./types.js";

/**
 * Decides how an event enters the fold of its aggregate when other events of that aggregate are
 * concurrent with it (neither vector clock before the other). Must be a pure function of its
 * arguments: every replica holding the same events then folds them the same way, and no resolution
 * ever writes new events.
 */
export interface Resolver {
  readonly name: string;
  /**
   * `event` is about to be applied; `concurrent` are all the other events of its aggregate concurrent
   * with it (earlier and later in the fold order), in fold order. Returns the event to apply (the same
   * one, or a copy with other `data`), or `null` to skip it.
   */
  resolve(event: ReplicatedEvent, concurrent: readonly ReplicatedEvent[]): ReplicatedEvent | null;
}

/**
 * The deterministic "later write" order used by last-writer-wins: greater hybrid logical time wins,
 * then the greater origin (node id), then the greater event id. Positive when `a` wins over `b`.
 */
export function compareWriters(a: ReplicatedEvent, b: ReplicatedEvent): number {
  return cmp(a.hlc, b.hlc) || cmp(a.origin, b.origin) || cmp(a.id, b.id);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(x: Json): x is { [key: string]: Json } {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Last writer wins: of events concurrent with each other, the one with the greatest HLC (ties by
 * node id) is applied; an event beaten by any event concurrent with it is skipped. Events with no
 * concurrent event are always applied.
 */
export function lastWriterWins(): Resolver {
  return {
    name: "lastWriterWins",
    resolve: (event, concurrent) => (concurrent.some((c) => compareWriters(c, event) > 0) ? null : event),
  };
}

/**
 * Field-level merge for object `data`: each top-level field is decided by last-writer-wins among
 * the concurrent events that set it, so concurrent edits of different fields both survive. The
 * event is applied with only the fields it won (skipped if it won none). An event whose `data` is
 * not an object, or that is beaten by a concurrent event whose `data` is not an object, is decided
 * as a whole by last-writer-wins.
 */
export function fieldMerge(): Resolver {
  return {
    name: "fieldMerge",
    resolve(event, concurrent) {
      const winners = concurrent.filter((c) => compareWriters(c, event) > 0);
      if (winners.length === 0) return event;
      if (!isObject(event.data) || winners.some((w) => !isObject(w.data))) return null;
      const kept: { [key: string]: Json } = {};
      let any = false;
      for (const [k, v] of Object.entries(event.data)) {
        if (winners.some((w) => Object.hasOwn(w.data as object, k))) continue;
        kept[k] = v;
        any = true;
      }
      return any ? { ...event, data: kept } : null;
    },
  };
}

/**
 * Keep both: every event is applied in the deterministic fold order, and the conflict is reported
 * (`Replica.project(aggregateId).conflicts`) for the application to settle.
 */
export function keepBoth(): Resolver {
  return { name: "keepBoth", resolve: (event) => event };
}

/**
 * A resolver of your own: `fn(event, concurrent)` returns the event to apply (possibly with other
 * `data`) or `null` to skip it. It must depend on its arguments only (no clock, no randomness, no I/O).
 */
export function custom(fn: (event: ReplicatedEvent, concurrent: readonly ReplicatedEvent[]) => ReplicatedEvent | null, name = "custom"): Resolver {
  if (typeof fn !== "function") throw invalid("fn", "expected a function (event, concurrent) => event | null");
  return { name, resolve: fn };
}
