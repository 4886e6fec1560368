/**
 * Order keys for lists: strings that sort in list order, so an item can be placed between any two
 * others without renumbering. Appends use a length-prefixed base-62 counter (short keys for long
 * lists); inserts take a midpoint string between the two neighbours.
 */
const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"; // ASCII order
const BASE = DIGITS.length;

function digit(s: string, i: number): number {
  return DIGITS.indexOf(s[i]!);
}

/** The key that follows `last` (or the first key, if the list is empty). */
export function after(last: string | undefined): string {
  let n = 0;
  if (last !== undefined && last.length > 0) {
    const len = digit(last, 0);
    for (let i = 1; i <= len && i < last.length; i++) n = n * BASE + digit(last, i);
  }
  n += 1;
  let digits = "";
  for (let m = n; m > 0; m = Math.floor(m / BASE)) digits = DIGITS[m % BASE]! + digits;
  return DIGITS[digits.length]! + digits;
}

/** A key strictly between `a` and `b` (`a` may be "" for the start of the list). */
export function between(a: string, b: string): string {
  let out = "";
  let upper: string | undefined = b;
  for (let i = 0; ; i++) {
    const lo = i < a.length ? digit(a, i) : 0;
    const hi = upper !== undefined && i < upper.length ? digit(upper, i) : BASE;
    if (hi - lo > 1) return out + DIGITS[(lo + hi) >> 1]!;
    out += DIGITS[lo]!;
    if (hi > lo) upper = undefined; // from here on only `a` constrains
  }
}
