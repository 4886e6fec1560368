import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";
import { sleep, until } from "../helpers/wait.js";

for (const name of engineNames()) {
  describe(`semaphore: ${name}`, () => {
    const { open } = useEngine(name);

    it("admits at most `permits` holders, first come first served", async () => {
      const clients = await Promise.all(Array.from({ length: 5 }, () => open()));
      let inside = 0;
      let max = 0;
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < 4; i++) {
            const h = await c.semaphore("pool", { permits: 2 }).acquire({ timeoutMs: 20_000 });
            inside++;
            max = Math.max(max, inside);
            await sleep(2);
            inside--;
            await h.release();
          }
        }),
      );
      expect(max).toBe(2);
    });

    it("tryAcquire and available reflect the free permits; a permit fences writes", async () => {
      const a = await open();
      const s = a.semaphore("few", { permits: 2 });
      const p1 = await s.tryAcquire();
      const p2 = await s.tryAcquire();
      expect(await s.available()).toBe(0);
      expect(await s.tryAcquire()).toBeUndefined();
      expect((await a.value("v").set(1, { fence: p1! })).ok).toBe(true);
      await p1!.release();
      await expect(a.value("v").set(2, { fence: p1! })).rejects.toMatchObject({ code: "LOCK_LOST" });
      expect(await s.available()).toBe(1);
      await p2!.release();
    });

    it("a waiter times out with TIMEOUT; bad permits are INVALID_ARGUMENT", async () => {
      const a = await open();
      const h = await a.semaphore("one", { permits: 1 }).acquire();
      await expect(a.semaphore("one", { permits: 1 }).acquire({ timeoutMs: 80 })).rejects.toMatchObject({ code: "TIMEOUT" });
      await h.release();
      for (const bad of [0, -1, 1.5, undefined]) {
        expect(() => a.semaphore("x", { permits: bad as number })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      }
    });
  });

  describe(`rwlock: ${name}`, () => {
    const { open } = useEngine(name);

    it("readers share, a writer excludes, and a waiting writer holds back later readers", async () => {
      const a = await open();
      const b = await open();
      const r1 = await a.rwlock("rw").read();
      const r2 = await b.rwlock("rw").read();
      expect(await a.rwlock("rw").tryWrite()).toBeUndefined();
      const order: string[] = [];
      const w = b.rwlock("rw").write().then((h) => (order.push("w"), h));
      await until(async () => (await a.driver.range("concord/rwlock/rw/")).entries.length === 3);
      const r3 = a.rwlock("rw").read().then((h) => (order.push("r3"), h));
      await sleep(50);
      expect(order).toEqual([]); // r3 waits behind the writer although only readers hold
      await r1.release();
      await r2.release();
      const wh = await w;
      expect(order).toEqual(["w"]);
      await wh.release();
      const r3h = await r3;
      expect(order).toEqual(["w", "r3"]);
      expect(r3h.token).toBeGreaterThan(wh.token);
      await r3h.release();
    });
  });

  describe(`barrier and latch: ${name}`, () => {
    const { open } = useEngine(name);

    it("a barrier releases everyone once all parties wait", async () => {
      const clients = await Promise.all(Array.from({ length: 3 }, () => open()));
      let passed = 0;
      const waits = clients.slice(0, 2).map((c) => c.barrier("b", { parties: 3 }).wait({ timeoutMs: 10_000 }).then(() => passed++));
      await until(async () => (await clients[0]!.barrier("b", { parties: 3 }).waiting()) === 2);
      expect(passed).toBe(0);
      await clients[2]!.barrier("b", { parties: 3 }).wait();
      await Promise.all(waits);
      expect(passed).toBe(2);
      await expect(clients[0]!.barrier("t", { parties: 2 }).wait({ timeoutMs: 50 })).rejects.toMatchObject({ code: "TIMEOUT" });
    });

    it("a latch releases waiters after count count-downs and never goes below zero", async () => {
      const a = await open();
      const b = await open();
      let open_ = false;
      const waiting = b.latch("l", 3).wait({ timeoutMs: 10_000 }).then(() => (open_ = true));
      expect(await a.latch("l", 3).countDown()).toBe(2);
      expect(await a.latch("l", 3).countDown()).toBe(1);
      await sleep(30);
      expect(open_).toBe(false);
      expect(await b.latch("l", 3).countDown()).toBe(0);
      await waiting;
      expect(await a.latch("l", 3).countDown()).toBe(0);
      expect(await a.latch("l", 3).count()).toBe(0);
      try {
        a.latch("l", 0);
        throw new Error("accepted");
      } catch (e) {
        expect(isConcordError(e, "INVALID_ARGUMENT")).toBe(true);
      }
    });
  });
}
