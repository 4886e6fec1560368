import { ConcordError } from "../errors.js";
import type { Entry } from "./types.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The value of an entry that holds the decimal text of a safe integer (absent = 0), for `increment`. */
export function integerOf(e: Entry | undefined, engine: string): number {
  if (!e) return 0;
  const text = dec.decode(e.value);
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new ConcordError("CORRUPT", `${e.key} does not hold an integer`, { engine });
  }
  return n;
}

/** `integerOf(e) + delta`, refusing (with nothing written) a sum outside the safe integers. */
export function addInteger(e: Entry | undefined, delta: number, engine: string): number {
  const next = integerOf(e, engine) + delta;
  if (!Number.isSafeInteger(next)) throw new ConcordError("INVALID_ARGUMENT", `delta: the counter would leave the safe integer range`, { engine });
  return next;
}

export const integerBytes = (n: number): Uint8Array => enc.encode(String(n));
