import { ConcordError, invalid, isConcordError } from "../errors.js";
import { HybridLogicalClock } from "../time/hlc.js";
import type { Json, ReplicatedEvent } from "./types.js";
import { VectorClock } from "./vector-clock.js";

export interface ValidateEventOptions {
  /** At most this many clock entries, else `TOO_LARGE`. Default {@link VectorClock.MAX_ENTRIES}. */
  maxClockEntries?: number;
}

/** Longest id, type, aggregate id or origin accepted. */
export const MAX_NAME_LENGTH = 256;
/** Deepest nesting of `data` and `metadata` accepted. */
export const MAX_JSON_DEPTH = 64;

const FIELDS: ReadonlySet<string> = new Set(["id", "type", "aggregateId", "data", "metadata", "origin", "clock", "hlc"]);

// Control characters in names break logs, headers and SQL tooling; nothing legitimate needs them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws `INVALID_ARGUMENT` naming `path` unless `x` is a non-empty string of at most 256 characters without control characters. */
export function checkName(path: string, x: unknown): string {
  if (typeof x !== "string" || x.length === 0 || x.length > MAX_NAME_LENGTH || CONTROL.test(x)) {
    throw invalid(path, `expected a non-empty string of at most ${MAX_NAME_LENGTH} characters without control characters, got ${describe(x)}`);
  }
  return x;
}

function describe(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  return typeof x;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Throws `INVALID_ARGUMENT` naming the path unless `x` is plain JSON (finite numbers, plain objects, no cycles, bounded depth). */
export function checkJson(path: string, x: unknown, depth = 0): Json {
  if (depth > MAX_JSON_DEPTH) throw invalid(path, `nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (x === null || typeof x === "string" || typeof x === "boolean") return x;
  if (typeof x === "number") {
    if (!Number.isFinite(x)) throw invalid(path, `expected a finite number, got ${String(x)}`);
    return x;
  }
  if (Array.isArray(x)) {
    x.forEach((v, i) => checkJson(`${path}[${i}]`, v, depth + 1));
    return x as Json[];
  }
  if (isPlainObject(x)) {
    for (const [k, v] of Object.entries(x)) checkJson(`${path}.${k}`, v, depth + 1);
    return x as Json;
  }
  throw invalid(path, `expected JSON (null, boolean, number, string, array or plain object), got ${typeof x}`);
}

/**
 * Checks that `x` is a complete, well-formed replicated event and returns a normalized copy (clock in
 * canonical form, fields in a fixed order). Throws `INVALID_ARGUMENT` naming the offending path, e.g.
 * `events[3].clock`, or `TOO_LARGE` for a clock with too many entries. Unknown fields are refused.
 * The clock must count the event itself: `clock[origin] >= 1`; the HLC must be an encoded
 * `HybridLogicalClock` timestamp of the origin node.
 */
export function validateEvent(x: unknown, path = "event", opts: ValidateEventOptions = {}): ReplicatedEvent {
  if (!isPlainObject(x)) throw invalid(path, `expected an event object, got ${describe(x)}`);
  for (const k of Object.keys(x)) if (!FIELDS.has(k)) throw invalid(`${path}.${k}`, "unknown field");
  const id = checkName(`${path}.id`, x["id"]);
  const type = checkName(`${path}.type`, x["type"]);
  const aggregateId = checkName(`${path}.aggregateId`, x["aggregateId"]);
  const origin = checkName(`${path}.origin`, x["origin"]);
  if (!("data" in x) || x["data"] === undefined) throw invalid(`${path}.data`, "missing; use null for an event without data");
  const data = checkJson(`${path}.data`, x["data"]);
  const rawMeta = x["metadata"] ?? {};
  if (!isPlainObject(rawMeta)) throw invalid(`${path}.metadata`, `expected an object, got ${describe(rawMeta)}`);
  const metadata = checkJson(`${path}.metadata`, rawMeta) as Record<string, Json>;
  const clock = VectorClock.validate(x["clock"], { path: `${path}.clock`, ...(opts.maxClockEntries === undefined ? {} : { maxEntries: opts.maxClockEntries }) });
  if ((clock[origin] ?? 0) < 1) throw invalid(`${path}.clock`, `must count the event itself: expected clock[${JSON.stringify(origin)}] >= 1`);
  const hlc = x["hlc"];
  let decodedNode: string;
  try {
    decodedNode = HybridLogicalClock.decode(hlc as string).nodeId;
  } catch {
    throw invalid(`${path}.hlc`, `expected an encoded hybrid logical timestamp, got ${describe(hlc)}`);
  }
  if (decodedNode !== origin) throw invalid(`${path}.hlc`, `names node ${JSON.stringify(decodedNode)}, not the origin ${JSON.stringify(origin)}`);
  return { id, type, aggregateId, data, metadata, origin, clock, hlc: hlc as string };
}

/** JSON with object keys sorted, so equal content gives equal text whatever the key order (PostgreSQL jsonb reorders keys). */
export function canonicalJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(",")}]`;
  if (typeof x === "object" && x !== null) {
    const keys = Object.keys(x).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((x as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(x) ?? "null";
}

/** True when two events have the same content in every field (object key order aside). */
export function sameEvent(a: ReplicatedEvent, b: ReplicatedEvent): boolean {
  return (
    a.id === b.id &&
    a.type === b.type &&
    a.aggregateId === b.aggregateId &&
    a.origin === b.origin &&
    a.hlc === b.hlc &&
    VectorClock.compare(a.clock, b.clock) === "equal" &&
    canonicalJson(a.data) === canonicalJson(b.data) &&
    canonicalJson(a.metadata) === canonicalJson(b.metadata)
  );
}

/**
 * The error of an event whose id is already stored with different content: `INVALID_ARGUMENT`, the
 * word "conflict" in the message, recognized by {@link isIdCollision} (an HTTP handler answers 409).
 */
export function idCollisionError(id: string, path = "events"): ConcordError {
  const e = new ConcordError("INVALID_ARGUMENT", `${path}: id conflict: event ${JSON.stringify(id)} is already stored with different content; event ids must be unique`);
  Object.defineProperty(e, "idCollision", { value: id, enumerable: true });
  return e;
}

/** True for the error of an event id stored with different content (see {@link idCollisionError}). */
export function isIdCollision(e: unknown): e is ConcordError & { idCollision: string } {
  return isConcordError(e, "INVALID_ARGUMENT") && typeof (e as { idCollision?: unknown }).idCollision === "string";
}
