import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.js";
import { VectorClock } from "../../src/replication/index.js";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isConcordError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return undefined;
}

describe("VectorClock", () => {
  it("compares before, after, equal and concurrent", () => {
    expect(VectorClock.compare({ a: 1 }, { a: 2 })).toBe("before");
    expect(VectorClock.compare({ a: 2, b: 1 }, { a: 1 })).toBe("after");
    expect(VectorClock.compare({ a: 1, b: 0 }, { a: 1 })).toBe("equal");
    expect(VectorClock.compare({}, {})).toBe("equal");
    expect(VectorClock.compare({}, { x: 1 })).toBe("before");
    expect(VectorClock.compare({ a: 2, b: 1 }, { a: 1, b: 2 })).toBe("concurrent");
    expect(VectorClock.compare({ a: 1 }, { b: 1 })).toBe("concurrent");
    expect(new VectorClock({ a: 1 }).compare(new VectorClock({ a: 1, c: 3 }))).toBe("before");
  });

  it("merges entry-wise, increments one entry and keeps itself unchanged", () => {
    const a = new VectorClock({ a: 3, b: 1 });
    const m = a.merge({ b: 4, c: 2 });
    expect(m.toJSON()).toEqual({ a: 3, b: 4, c: 2 });
    expect(a.toJSON()).toEqual({ a: 3, b: 1 });
    expect(a.increment("b").toJSON()).toEqual({ a: 3, b: 2 });
    expect(a.increment("z").get("z")).toBe(1);
    expect(a.get("missing")).toBe(0);
    expect(VectorClock.merge({ a: 1 }, { b: 2 }, { a: 5 })).toEqual({ a: 5, b: 2 });
  });

  it("gives a canonical JSON form: keys sorted, zeros dropped", () => {
    const c = new VectorClock({ z: 1, a: 2, m: 0 });
    expect(Object.keys(c.toJSON())).toEqual(["a", "z"]);
    expect(JSON.stringify(c)).toBe('{"a":2,"z":1}');
    expect(c.size).toBe(2);
    expect(c.nodes()).toEqual(["a", "z"]);
    expect(VectorClock.fromJSON({ b: 1, a: 1 }).toJSON()).toEqual({ a: 1, b: 1 });
  });

  it("validates received clocks, naming the path", () => {
    expect(code(() => VectorClock.validate(null, { path: "events[3].clock" }))).toMatch(/^INVALID_ARGUMENT: events\[3\]\.clock/);
    expect(code(() => VectorClock.validate([1]))).toMatch(/^INVALID_ARGUMENT: clock/);
    expect(code(() => VectorClock.validate({ a: -1 }))).toMatch(/^INVALID_ARGUMENT: clock\.a/);
    expect(code(() => VectorClock.validate({ a: 1.5 }))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => VectorClock.validate({ a: "1" }))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => VectorClock.validate({ a: Number.MAX_SAFE_INTEGER + 1 }))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => VectorClock.validate({ "": 1 }))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => VectorClock.validate({ ["x".repeat(257)]: 1 }))).toMatch(/^INVALID_ARGUMENT/);
    expect(code(() => VectorClock.validate(new Map()))).toMatch(/^INVALID_ARGUMENT/);
    expect(VectorClock.validate({ a: 0, b: 7 })).toEqual({ b: 7 });
  });

  it("refuses a clock with more entries than the limit as TOO_LARGE", () => {
    const big = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`n${i}`, 1]));
    expect(code(() => VectorClock.validate(big, { maxEntries: 10 }))).toMatch(/^TOO_LARGE: clock: 11 entries; the limit is 10/);
    expect(VectorClock.validate(big, { maxEntries: 11 })).toEqual(big);
    const huge = Object.fromEntries(Array.from({ length: VectorClock.MAX_ENTRIES + 1 }, (_, i) => [`n${i}`, 1]));
    expect(code(() => VectorClock.fromJSON(huge))).toMatch(/^TOO_LARGE/);
  });
});
