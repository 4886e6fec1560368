import { invalid } from "../errors.js";

/**
 * Longest key a driver accepts, in UTF-16 code units: the same on every engine, and short enough
 * that 3 bytes a character fit PostgreSQL's b-tree entry limit (about 2,700 bytes).
 */
export const MAX_KEY_LENGTH = 900;
/** The shortest lease any engine is asked for. */
export const MIN_TTL_MS = 1000;
/** The longest lease: a week. */
export const MAX_TTL_MS = 7 * 24 * 3600 * 1000;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkKey(arg: string, key: unknown, { allowEmpty = false } = {}): asserts key is string {
  if (typeof key !== "string") throw invalid(arg, `expected a string, got ${typeof key}`);
  if (!allowEmpty && key.length === 0) throw invalid(arg, "must not be empty");
  if (key.length > MAX_KEY_LENGTH) throw invalid(arg, `is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`);
  if (CONTROL.test(key)) throw invalid(arg, "must not contain control characters");
}

export function checkVersion(arg: string, v: unknown): asserts v is number | undefined {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(arg, `expected a non-negative integer version, got ${String(v)}`);
  }
}

export function checkTtl(arg: string, ttlMs: unknown, min = MIN_TTL_MS): asserts ttlMs is number {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || !Number.isInteger(ttlMs)) {
    throw invalid(arg, `expected an integer number of milliseconds, got ${String(ttlMs)}`);
  }
  if (ttlMs < min) throw invalid(arg, `${ttlMs} ms is below the minimum of ${min} ms`);
  if (ttlMs > MAX_TTL_MS) throw invalid(arg, `${ttlMs} ms is above the maximum of ${MAX_TTL_MS} ms`);
}

export function checkPositiveInt(arg: string, n: unknown): asserts n is number | undefined {
  if (n === undefined) return;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) {
    throw invalid(arg, `expected a positive integer, got ${String(n)}`);
  }
}

export function checkBytes(arg: string, v: unknown): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalid(arg, "expected a Uint8Array");
}

export function checkLeaseId(arg: string, id: unknown): asserts id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > 128) throw invalid(arg, "expected a lease id string");
}

/** The smallest string greater than every string that starts with `prefix` (for range scans). */
export function prefixEnd(prefix: string): string {
  return prefix + "\uffff";
}
