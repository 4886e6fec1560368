import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchOp, BatchResult, Driver } from "../../src/driver/types.js";
import { BatchCoalescer } from "../../src/internal/batch-coalescer.js";
import { engine, engineNames, type EngineUnderTest } from "../helpers/engines.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

// Only engines whose driver offers batch; the others never coalesce.
const OFFERS_BATCH = new Set(["sqlite", "redis", "postgres"]);

for (const name of engineNames().filter((n) => OFFERS_BATCH.has(n))) {
  describe(`BatchCoalescer (${name})`, () => {
    let eng: EngineUnderTest;
    let driver: Driver;
    /** The ops of every call that reached the driver. */
    let calls: BatchOp[][];
    let coalescer: BatchCoalescer;
    let n = 0;
    const key = (k: string): string => `coalesce/${n}/${k}`;

    beforeAll(async () => {
      eng = engine(name);
      driver = await eng.open();
      coalescer = new BatchCoalescer((ops) => {
        calls.push(ops);
        return driver.batch!(ops);
      });
    });
    afterAll(async () => {
      await driver.close();
      eng.cleanup();
    });
    const fresh = (): void => {
      n++;
      calls = [];
    };

    it("batches asked for in one turn reach the engine as one call, each with its own results and revisions", async () => {
      fresh();
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => coalescer.batch([{ type: "put", key: key(`a${i}`), value: enc(`v${i}`) }, { type: "put", key: key(`b${i}`), value: enc(`w${i}`), ifVersion: 0 }])));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toHaveLength(20);
      const revisions = rs.flatMap((r) => (r.ok ? r.results.map((x) => (x.ok && "entry" in x ? x.entry.modRevision : -1)) : [-1]));
      expect(revisions.every((x, i) => i === 0 || x === revisions[i - 1]! + 1)).toBe(true);
      for (let i = 0; i < 10; i++) expect(dec((await driver.get(key(`b${i}`)))?.value)).toBe(`w${i}`);
    });

    it("a failed condition fails only its own batch; the others are written", async () => {
      fresh();
      await driver.put(key("taken"), enc("first"));
      const [a, b, c] = await Promise.all([
        coalescer.batch([{ type: "put", key: key("x"), value: enc("1") }]),
        coalescer.batch([{ type: "put", key: key("y"), value: enc("2") }, { type: "put", key: key("taken"), value: enc("second"), ifVersion: 0 }]),
        coalescer.batch([{ type: "put", key: key("z"), value: enc("3") }]),
      ]);
      expect(a!.ok).toBe(true);
      expect(c!.ok).toBe(true);
      expect(b).toMatchObject({ ok: false, failed: 1 });
      // One merged call, then the group before the failed one again, and the one after it alone.
      expect(calls.map((c) => c.length)).toEqual([4, 1, 1]);
      const refused = (b as Extract<BatchResult, { ok: false }>).result;
      expect(dec("current" in refused ? refused.current?.value : undefined)).toBe("first");
      expect(await driver.get(key("y"))).toBeUndefined(); // nothing of the failed batch
      expect(dec((await driver.get(key("x")))?.value)).toBe("1");
      expect(dec((await driver.get(key("z")))?.value)).toBe("3");
      expect(dec((await driver.get(key("taken")))?.value)).toBe("first");
    });

    it("batches naming the same key are not merged: each is judged on its own, and one wins", async () => {
      fresh();
      const rs = await Promise.all([
        coalescer.batch([{ type: "put", key: key("once"), value: enc("a"), ifVersion: 0 }]),
        coalescer.batch([{ type: "put", key: key("once"), value: enc("b"), ifVersion: 0 }]),
      ]);
      expect(calls).toHaveLength(2);
      expect(rs.filter((r) => r.ok)).toHaveLength(1);
      expect(rs.filter((r) => !r.ok)[0]).toMatchObject({ ok: false, failed: 0 });
      expect(dec((await driver.get(key("once")))?.value)).toBe(rs[0]!.ok ? "a" : "b");
    });

    it("a batch guarded by a key another batch writes is not merged with it", async () => {
      fresh();
      const g = await driver.put(key("guard"), enc("g"));
      if (!g.ok) throw new Error("setup");
      await Promise.all([
        coalescer.batch([{ type: "put", key: key("guard"), value: enc("moved") }]),
        coalescer.batch([{ type: "put", key: key("fenced"), value: enc("f"), guard: { key: key("guard"), version: g.entry.modRevision } }]),
      ]);
      expect(calls.map((c) => c.length)).toEqual([1, 1]);
    });

    it("an empty batch among others is refused alone", async () => {
      fresh();
      const [good, empty] = await Promise.allSettled([coalescer.batch([{ type: "put", key: key("e1"), value: enc("1") }]), coalescer.batch([])]);
      expect(good.status).toBe("fulfilled");
      expect((empty as PromiseRejectedResult).reason).toMatchObject({ code: "INVALID_ARGUMENT" });
    });

    it("more ops than one batch may carry go as several calls, all of them written", async () => {
      fresh();
      const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => coalescer.batch([{ type: "put", key: key(`m${i}`), value: enc("x") }, { type: "put", key: key(`n${i}`), value: enc("y") }])));
      expect(rs.every((r) => r.ok)).toBe(true);
      expect(calls.length).toBe(2);
      expect(calls.every((c) => c.length <= 64)).toBe(true);
    });

    it("a put under a lease that is gone fails its own batch with NOT_HELD; the others are written", async () => {
      fresh();
      const { id: lease } = await driver.grantLease(5_000);
      await driver.revokeLease(lease);
      const [good, dead] = await Promise.allSettled([
        coalescer.batch([{ type: "put", key: key("kept"), value: enc("1") }]),
        coalescer.batch([{ type: "put", key: key("leased"), value: enc("2"), lease }]),
      ]);
      expect(good.status).toBe("fulfilled");
      expect((dead as PromiseRejectedResult).reason).toMatchObject({ code: "NOT_HELD" });
      expect(dec((await driver.get(key("kept")))?.value)).toBe("1");
      expect(await driver.get(key("leased"))).toBeUndefined();
    });

    it("bad input in one batch is refused by name and does not take the others down", async () => {
      fresh();
      const [good, bad] = await Promise.allSettled([
        coalescer.batch([{ type: "put", key: key("fine"), value: enc("1") }]),
        coalescer.batch([{ type: "put", key: "", value: enc("2") }]),
      ]);
      expect(good.status).toBe("fulfilled");
      expect(bad.status).toBe("rejected");
      expect(String((bad as PromiseRejectedResult).reason)).toMatch(/key/);
      expect(dec((await driver.get(key("fine")))?.value)).toBe("1");
    });
  });
}
