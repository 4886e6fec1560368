import { closedError, invalid } from "../../errors.js";
import { checkName } from "../event.js";
import type { Cursor, ReadOptions, ReplicatedEvent } from "../types.js";

/** The default page size of `read`. */
export const DEFAULT_READ_LIMIT = 1000;

/** Read options after validation: `since` as a sequence number, filters as sets. */
export interface CheckedRead {
  since: number;
  limit: number;
  aggregateIds: ReadonlySet<string> | undefined;
  types: ReadonlySet<string> | undefined;
  excludeOrigin: string | undefined;
}

/** Parses a cursor: `""`/absent is 0, otherwise a decimal sequence number. Throws `INVALID_ARGUMENT` naming `since`. */
export function parseCursor(c: unknown, arg = "since"): number {
  if (c === undefined || c === "") return 0;
  if (typeof c !== "string" || !/^(0|[1-9][0-9]{0,15})$/.test(c) || !Number.isSafeInteger(Number(c))) {
    throw invalid(arg, `expected a cursor returned by this store (a decimal sequence number) or "", got ${JSON.stringify(c) ?? typeof c}`);
  }
  return Number(c);
}

export function formatCursor(seq: number): Cursor {
  return String(seq);
}

function nameList(arg: string, x: unknown): ReadonlySet<string> | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) throw invalid(arg, "expected an array of strings");
  return new Set(x.map((v, i) => checkName(`${arg}[${i}]`, v)));
}

/** Validates `read` options; every problem is `INVALID_ARGUMENT` naming the option. */
export function checkReadOptions(opts: ReadOptions | undefined): CheckedRead {
  if (opts !== undefined && (typeof opts !== "object" || opts === null)) throw invalid("opts", "expected an options object");
  const o = opts ?? {};
  const limit = o.limit ?? DEFAULT_READ_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw invalid("limit", `expected a positive integer, got ${String(limit)}`);
  return {
    since: parseCursor(o.since),
    limit,
    aggregateIds: nameList("aggregateIds", o.aggregateIds),
    types: nameList("types", o.types),
    excludeOrigin: o.excludeOrigin === undefined ? undefined : checkName("excludeOrigin", o.excludeOrigin),
  };
}

/** Whether `e` passes the filters of `r`. */
export function matches(r: CheckedRead, e: ReplicatedEvent): boolean {
  return (!r.aggregateIds || r.aggregateIds.has(e.aggregateId)) && (!r.types || r.types.has(e.type)) && e.origin !== r.excludeOrigin;
}

/** Throws `INVALID_ARGUMENT` unless `ids` is an array of event ids. */
export function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw invalid("ids", "expected an array of event ids");
  return ids.map((v, i) => checkName(`ids[${i}]`, v));
}

/** Throws `CLOSED` when `closed`. */
export function checkOpen(closed: boolean, what: string): void {
  if (closed) throw closedError(what);
}

/** Throws `INVALID_ARGUMENT` unless `events` is an array. */
export function checkBatch(events: unknown): asserts events is readonly unknown[] {
  if (!Array.isArray(events)) throw invalid("events", "expected an array of events");
}
