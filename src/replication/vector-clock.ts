import { ConcordError, invalid } from "../errors.js";
import type { VectorClockJSON } from "./types.js";

/** How two vector clocks relate: `a` happened before `b`, after it, is the same, or neither (concurrent). */
export type ClockOrder = "before" | "after" | "equal" | "concurrent";

export interface ValidateClockOptions {
  /** At most this many node entries, else `TOO_LARGE`. Default {@link VectorClock.MAX_ENTRIES}. */
  maxEntries?: number;
  /** How the value is named in error messages, e.g. `events[3].clock`. Default `clock`. */
  path?: string;
}

const MAX_NODE_ID_LENGTH = 256;

// Lets the module's helpers read a clock's entries without copying them.
let entriesOf: (c: VectorClock) => ReadonlyMap<string, number>;

function sortedEntries(m: ReadonlyMap<string, number>): [string, number][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A vector clock: for each node, how many of that node's events are known. Immutable: `increment`
 * and `merge` return new clocks. Zero entries are the same as absent ones and are dropped.
 *
 * Static helpers take either a `VectorClock` or its JSON form (`{ [nodeId]: count }`), which is how
 * clocks travel and are stored.
 */
export class VectorClock {
  /** The default limit on the number of entries of a clock accepted from outside. */
  static readonly MAX_ENTRIES = 1000;

  readonly #entries: ReadonlyMap<string, number>;

  static {
    entriesOf = (c) => c.#entries;
  }

  /** A clock from trusted entries (use {@link VectorClock.fromJSON} for anything received). */
  constructor(entries: VectorClockJSON | ReadonlyMap<string, number> = {}) {
    const m = new Map<string, number>();
    const it = entries instanceof Map ? entries.entries() : Object.entries(entries);
    for (const [node, n] of it) if (n > 0) m.set(node, n);
    this.#entries = m;
  }

  /** Validates `json` (see {@link VectorClock.validate}) and wraps it. */
  static fromJSON(json: unknown, opts: ValidateClockOptions = {}): VectorClock {
    return new VectorClock(VectorClock.validate(json, opts));
  }

  /**
   * Checks that `x` is a clock: a plain object whose keys are non-empty node ids (at most 256
   * characters) and whose values are non-negative safe integers. Throws `INVALID_ARGUMENT` naming
   * the path, or `TOO_LARGE` past `maxEntries`. Returns the canonical JSON form (keys sorted, zeros dropped).
   */
  static validate(x: unknown, opts: ValidateClockOptions = {}): VectorClockJSON {
    const path = opts.path ?? "clock";
    const max = opts.maxEntries ?? VectorClock.MAX_ENTRIES;
    if (typeof x !== "object" || x === null || Array.isArray(x)) throw invalid(path, "expected an object of node id -> count");
    const proto = Object.getPrototypeOf(x) as unknown;
    if (proto !== Object.prototype && proto !== null) throw invalid(path, "expected a plain object of node id -> count");
    const keys = Object.keys(x);
    if (keys.length > max) {
      throw new ConcordError("TOO_LARGE", `${path}: ${keys.length} entries; the limit is ${max} (maxClockEntries)`);
    }
    const m = new Map<string, number>();
    for (const k of keys) {
      const v = (x as Record<string, unknown>)[k];
      if (k.length === 0 || k.length > MAX_NODE_ID_LENGTH) throw invalid(path, `node ids must be 1 to ${MAX_NODE_ID_LENGTH} characters, got ${JSON.stringify(k.slice(0, 40))}`);
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw invalid(`${path}.${k}`, `expected a non-negative integer, got ${JSON.stringify(v) ?? typeof v}`);
      if (v > 0) m.set(k, v);
    }
    return Object.fromEntries(sortedEntries(m));
  }

  /** The count of `nodeId` (0 when absent). */
  get(nodeId: string): number {
    return this.#entries.get(nodeId) ?? 0;
  }

  /** The number of non-zero entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** The node ids with a non-zero count, sorted. */
  nodes(): string[] {
    return sortedEntries(this.#entries).map(([k]) => k);
  }

  /** A clock with `nodeId`'s count one higher: the clock of that node's next event. */
  increment(nodeId: string): VectorClock {
    const m = new Map(this.#entries);
    m.set(nodeId, (m.get(nodeId) ?? 0) + 1);
    return new VectorClock(m);
  }

  /** The entry-wise maximum: everything either clock has seen. */
  merge(other: VectorClock | VectorClockJSON): VectorClock {
    return new VectorClock(VectorClock.merge(this, other));
  }

  /** How this clock relates to `other` (see {@link VectorClock.compare}). */
  compare(other: VectorClock | VectorClockJSON): ClockOrder {
    return VectorClock.compare(this, other);
  }

  /** The canonical JSON form: keys sorted, zero entries dropped. */
  toJSON(): VectorClockJSON {
    return Object.fromEntries(sortedEntries(this.#entries));
  }

  /**
   * `"before"` when every entry of `a` is <= that of `b` and one is smaller (a happened before b),
   * `"after"` for the converse, `"equal"` when all entries match, `"concurrent"` otherwise.
   */
  static compare(a: VectorClock | VectorClockJSON, b: VectorClock | VectorClockJSON): ClockOrder {
    const ma = toMap(a);
    const mb = toMap(b);
    let less = false;
    let greater = false;
    for (const [k, va] of ma) {
      const vb = mb.get(k) ?? 0;
      if (va < vb) less = true;
      else if (va > vb) greater = true;
    }
    for (const [k, vb] of mb) if (!ma.has(k) && vb > 0) less = true;
    if (less && greater) return "concurrent";
    if (less) return "before";
    if (greater) return "after";
    return "equal";
  }

  /** The entry-wise maximum of clocks, in canonical JSON form. */
  static merge(...clocks: (VectorClock | VectorClockJSON)[]): VectorClockJSON {
    const m = new Map<string, number>();
    for (const c of clocks) for (const [k, v] of toMap(c)) if (v > (m.get(k) ?? 0)) m.set(k, v);
    return Object.fromEntries(sortedEntries(m));
  }
}

function toMap(c: VectorClock | VectorClockJSON): ReadonlyMap<string, number> {
  if (c instanceof VectorClock) return entriesOf(c);
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(c)) if (v > 0) m.set(k, v);
  return m;
}
