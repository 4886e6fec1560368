import { ConcordError, invalid } from "../errors.js";
import { type Clock, systemClock } from "../internal/clock.js";

/** A hybrid logical timestamp: physical ms, a logical counter for events within one ms, and the node. */
export interface HlcTimestamp {
  wallMs: number;
  logical: number;
  nodeId: string;
}

export interface HybridLogicalClockOptions {
  clock?: Clock;
  /** A remote timestamp more than this far ahead of the local clock is refused. Default 60,000 ms. */
  maxDriftMs?: number;
}

const WALL_DIGITS = 15; // ms since the epoch fit in 15 decimal digits until the year 33658
const LOGICAL_DIGITS = 10;

/**
 * A hybrid logical clock (Kulkarni et al.): timestamps that follow physical time, never go
 * backwards even when the wall clock does, and order causally related events across nodes.
 */
export class HybridLogicalClock {
  readonly nodeId: string;
  readonly #clock: Clock;
  readonly #maxDriftMs: number;
  #last: HlcTimestamp;

  constructor(nodeId: string, opts: HybridLogicalClockOptions = {}) {
    if (typeof nodeId !== "string" || nodeId.length === 0 || nodeId.length > 256) throw invalid("nodeId", "expected a non-empty string of at most 256 characters");
    this.nodeId = nodeId;
    this.#clock = opts.clock ?? systemClock;
    this.#maxDriftMs = opts.maxDriftMs ?? 60_000;
    this.#last = { wallMs: 0, logical: 0, nodeId };
  }

  /** A timestamp for a local or send event, greater than every one this clock has given or seen. */
  now(): HlcTimestamp {
    const pt = this.#clock.now();
    const l = this.#last;
    this.#last = pt > l.wallMs ? { wallMs: pt, logical: 0, nodeId: this.nodeId } : { wallMs: l.wallMs, logical: l.logical + 1, nodeId: this.nodeId };
    return { ...this.#last };
  }

  /** Merges a received timestamp; rejects one too far ahead of the local clock with `INVALID_ARGUMENT`. */
  update(remote: HlcTimestamp): HlcTimestamp {
    checkTimestamp("remote", remote);
    const pt = this.#clock.now();
    if (remote.wallMs - pt > this.#maxDriftMs) {
      throw new ConcordError("INVALID_ARGUMENT", `remote: timestamp is ${remote.wallMs - pt} ms ahead of this clock; the limit is ${this.#maxDriftMs} ms (maxDriftMs)`);
    }
    const l = this.#last;
    const wall = Math.max(pt, l.wallMs, remote.wallMs);
    let logical: number;
    if (wall === l.wallMs && wall === remote.wallMs) logical = Math.max(l.logical, remote.logical) + 1;
    else if (wall === l.wallMs) logical = l.logical + 1;
    else if (wall === remote.wallMs) logical = remote.logical + 1;
    else logical = 0;
    this.#last = { wallMs: wall, logical, nodeId: this.nodeId };
    return { ...this.#last };
  }

  /** A total order: wall time, then logical, then node id. */
  static compare(a: HlcTimestamp, b: HlcTimestamp): number {
    return a.wallMs - b.wallMs || a.logical - b.logical || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);
  }

  /** A string that sorts the way {@link compare} orders. */
  static encode(t: HlcTimestamp): string {
    checkTimestamp("timestamp", t);
    return `${String(t.wallMs).padStart(WALL_DIGITS, "0")}.${String(t.logical).padStart(LOGICAL_DIGITS, "0")}.${t.nodeId}`;
  }

  static decode(s: string): HlcTimestamp {
    const m = typeof s === "string" ? /^(\d{15})\.(\d{10})\.(.+)$/s.exec(s) : null;
    if (!m) throw invalid("timestamp", `not an encoded HLC timestamp: ${JSON.stringify(s)}`);
    return { wallMs: Number(m[1]), logical: Number(m[2]), nodeId: m[3]! };
  }
}

function checkTimestamp(arg: string, t: unknown): asserts t is HlcTimestamp {
  const o = t as HlcTimestamp;
  if (typeof o !== "object" || o === null || !Number.isSafeInteger(o.wallMs) || o.wallMs < 0 || !Number.isSafeInteger(o.logical) || o.logical < 0 || o.logical >= 10 ** LOGICAL_DIGITS || typeof o.nodeId !== "string" || o.nodeId.length === 0) {
    throw invalid(arg, "expected { wallMs, logical, nodeId } with non-negative integers and a node id");
  }
}
