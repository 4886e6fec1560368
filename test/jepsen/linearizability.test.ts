import { describe, expect, it } from "vitest";
import {
  checkLinearizable,
  checkPerKey,
  counterModel,
  type CounterInput,
  type CounterOutput,
  type Operation,
  registerModel,
  type RegisterInput,
  type RegisterOutput,
} from "./linearizability.js";

type R = Operation<RegisterInput, RegisterOutput>;
const op = (client: number, call: number, ret: number, input: RegisterInput, output: RegisterOutput | undefined): R => ({ client, call, ret, input, output });

describe("linearizability checker", () => {
  it("accepts a sequential history", () => {
    const h: R[] = [
      op(0, 0, 1, { key: "k", f: "write", value: 1 }, { f: "write", version: 5 }),
      op(1, 2, 3, { key: "k", f: "read" }, { f: "read", value: 1, version: 5 }),
      op(0, 4, 5, { key: "k", f: "cas", ifVersion: 5, value: 2 }, { f: "cas", ok: true, version: 7 }),
      op(1, 6, 7, { key: "k", f: "cas", ifVersion: 5, value: 3 }, { f: "cas", ok: false }),
      op(1, 8, 9, { key: "k", f: "read" }, { f: "read", value: 2, version: 7 }),
    ];
    expect(checkLinearizable(registerModel, h).ok).toBe(true);
  });

  it("rejects a stale read after a completed write", () => {
    const h: R[] = [
      op(0, 0, 1, { key: "k", f: "write", value: 1 }, { f: "write", version: 5 }),
      op(0, 2, 3, { key: "k", f: "write", value: 2 }, { f: "write", version: 6 }),
      op(1, 4, 5, { key: "k", f: "read" }, { f: "read", value: 1, version: 5 }),
    ];
    expect(checkLinearizable(registerModel, h).ok).toBe(false);
  });

  it("accepts concurrent operations in either order, but not a read of a value never written", () => {
    const h: R[] = [
      op(0, 0, 10, { key: "k", f: "write", value: 1 }, { f: "write", version: 5 }),
      op(1, 1, 9, { key: "k", f: "read" }, { f: "read", value: 1, version: 5 }),
      op(2, 2, 8, { key: "k", f: "read" }, { f: "read", value: null, version: 0 }),
    ];
    expect(checkLinearizable(registerModel, h).ok).toBe(true);
    const bad = [...h, op(3, 11, 12, { key: "k", f: "read" }, { f: "read", value: 9, version: 5 })];
    expect(checkLinearizable(registerModel, bad).ok).toBe(false);
  });

  it("rejects two successful CAS from the same version", () => {
    const h: R[] = [
      op(0, 0, 1, { key: "k", f: "write", value: 1 }, { f: "write", version: 5 }),
      op(1, 2, 10, { key: "k", f: "cas", ifVersion: 5, value: 2 }, { f: "cas", ok: true, version: 6 }),
      op(2, 3, 11, { key: "k", f: "cas", ifVersion: 5, value: 3 }, { f: "cas", ok: true, version: 7 }),
    ];
    expect(checkLinearizable(registerModel, h).ok).toBe(false);
  });

  it("lets an operation with an unknown outcome take effect or not", () => {
    const h: R[] = [
      op(0, 0, Infinity, { key: "k", f: "write", value: 1 }, undefined),
      op(1, 5, 6, { key: "k", f: "read" }, { f: "read", value: null, version: 0 }),
      op(1, 7, 8, { key: "k", f: "read" }, { f: "read", value: null, version: 0 }),
    ];
    expect(checkLinearizable(registerModel, h).ok).toBe(true);
  });

  it("counter: accepts interleaved increments, rejects a lost update", () => {
    type C = Operation<CounterInput, CounterOutput>;
    const good: C[] = [
      { client: 0, call: 0, ret: 5, input: { key: "c", f: "incr", by: 1 }, output: { value: 2 } },
      { client: 1, call: 1, ret: 4, input: { key: "c", f: "incr", by: 1 }, output: { value: 1 } },
      { client: 2, call: 6, ret: 7, input: { key: "c", f: "read" }, output: { value: 2 } },
    ];
    expect(checkLinearizable(counterModel, good).ok).toBe(true);
    const lost: C[] = [
      { client: 0, call: 0, ret: 5, input: { key: "c", f: "incr", by: 1 }, output: { value: 1 } },
      { client: 1, call: 1, ret: 4, input: { key: "c", f: "incr", by: 1 }, output: { value: 1 } },
    ];
    expect(checkLinearizable(counterModel, lost).ok).toBe(false);
  });

  it("decomposes by key and names the key that fails", () => {
    const h: R[] = [
      op(0, 0, 1, { key: "a", f: "write", value: 1 }, { f: "write", version: 5 }),
      op(0, 2, 3, { key: "b", f: "write", value: 1 }, { f: "write", version: 6 }),
      op(1, 4, 5, { key: "b", f: "read" }, { f: "read", value: null, version: 0 }),
    ];
    const r = checkPerKey(registerModel, h);
    expect(r.ok).toBe(false);
    expect(r.failedKey).toBe("b");
  });

  it("checks a long random sequential history quickly", () => {
    const h: R[] = [];
    let version = 0;
    let value: number | null = null;
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 0) {
        version += 1;
        value = i;
        h.push(op(i % 5, 2 * i, 2 * i + 1, { key: "k", f: "write", value: i }, { f: "write", version }));
      } else h.push(op(i % 5, 2 * i, 2 * i + 1, { key: "k", f: "read" }, { f: "read", value, version }));
    }
    expect(checkLinearizable(registerModel, h).ok).toBe(true);
  });
});
