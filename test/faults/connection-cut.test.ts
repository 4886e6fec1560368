import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Concord, connect, isConcordError } from "../../src/index.js";
import { engine, type EngineUnderTest } from "../helpers/engines.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { until } from "../helpers/wait.js";
import { Collector, eventually, rejection, serverEngines, via } from "./kit.js";

/**
 * A connection cut mid-operation, through a TCP proxy in front of the shared engine (the engine
 * itself is untouched): one client talks through the proxy, another directly. Bounded: every wait
 * has a deadline; each case takes a few seconds.
 */

const TTL = 2_000;
/** How late a failure may come after its timeout on a loaded 2-core machine. */
const SLACK = 2_000;

/** host:port of the first server a harness URL names. */
function firstAddress(url: string): string {
  const m = /^[a-z]+:\/\/(?:[^@/?#]*@)?([^,/?#]+)/i.exec(url);
  if (!m) throw new Error(`no host in ${url}`);
  return m[1]!;
}

for (const name of serverEngines()) {
  describe(`connection cut: ${name}`, () => {
    let eng: EngineUnderTest;
    let proxy: TcpProxy;
    let clients: Concord[];
    const open = async (url: string): Promise<Concord> => {
      const c = await connect(url, { ttlMs: TTL });
      clients.push(c);
      return c;
    };

    beforeEach(async () => {
      eng = engine(name);
      clients = [];
      proxy = await TcpProxy.start(Number(firstAddress(eng.url).split(":")[1]));
    });

    afterEach(async () => {
      proxy.pass();
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await proxy.close();
      eng.cleanup();
    });

    for (const fault of ["stall", "drop", "refuse"] as const) {
      it(`${fault}: calls fail within their timeout, the held lock's signal aborts before another client gets it, and the client recovers by itself with a gapless watch`, async () => {
        const a = await open(via(eng.url, proxy.address));
        const b = await open(eng.url);
        const v0 = await b.value<number>("w").set(0);
        expect(v0.ok).toBe(true);
        const watched = new Collector((signal) => a.value<number>("w").watch({ signal, fromVersion: (v0 as { version: number }).version }));
        await until(() => watched.items.length >= 1, 5_000, "the watch to start");
        const held = await a.lock("l").acquire({ timeoutMs: 5_000 });
        let abortedAt: number | undefined;
        held.signal.addEventListener("abort", () => (abortedAt = Date.now()));

        const t0 = Date.now();
        if (fault === "refuse") {
          // The engine as good as gone: new connections refused, live ones reset.
          proxy.refuse();
          proxy.reset();
        } else proxy[fault]();

        // A call with a timeout fails within it, with a retryable code.
        const r1 = await rejection(a.lock("other").acquire({ timeoutMs: 600 }), ["TIMEOUT", "UNAVAILABLE"], t0);
        expect(r1.ms).toBeLessThan(600 + SLACK);
        const t1 = Date.now();
        const r2 = await rejection(a.value("x").get({ signal: AbortSignal.timeout(600) }), ["TIMEOUT", "UNAVAILABLE"], t1);
        expect(r2.ms).toBeLessThan(600 + SLACK);

        // The other client gets the lock only once the engine expired a's lease: a knew first.
        const hb = await b.lock("l").acquire({ timeoutMs: 4 * TTL + 5_000 });
        const tb = Date.now();
        expect(abortedAt, "the held lock's signal aborted").toBeDefined();
        expect(abortedAt!).toBeLessThanOrEqual(tb);
        expect(abortedAt! - t0).toBeLessThan(TTL + SLACK);
        expect(hb.token).toBeGreaterThan(held.token);
        for (let i = 1; i <= 5; i++) await b.value<number>("w").set(i);
        await hb.release();

        proxy.pass();
        // Recovery by itself: the same client acquires again (a call caught by the reconnect may fail
        // with UNAVAILABLE and is retried, as an application would), and its watch has every change in order.
        const { value: again } = await eventually(() => a.lock("l").acquire({ timeoutMs: 5_000 }), 15_000);
        expect(again.token).toBeGreaterThan(hb.token);
        await again.release();
        await until(() => watched.items.length >= 6 || watched.error, 15_000, "the watch to catch up");
        expect(watched.error).toBeUndefined();
        expect(watched.items.map((e) => e.value)).toEqual([0, 1, 2, 3, 4, 5]);
        const versions = watched.items.map((e) => e.version);
        expect([...versions].sort((x, y) => x - y)).toEqual(versions);
        expect(await a.value<number>("w").get()).toMatchObject({ value: 5 });
        await watched.stop();
      }, 60_000);
    }

    it("reset mid-operation: increments in flight are applied at most once, nothing acknowledged is lost, and the client carries on", async () => {
      const a = await open(via(eng.url, proxy.address));
      const b = await open(eng.url);
      const counter = a.counter("n");
      let acked = 0;
      let failed = 0;
      let stop = false;
      const resets = (async () => {
        for (let i = 0; i < 6; i++) {
          await new Promise((r) => setTimeout(r, 150));
          proxy.reset();
        }
        stop = true;
      })();
      // Resets for about a second, then on until some increments got through again (bounded).
      const deadline = Date.now() + 20_000;
      while (!stop || (acked < 5 && Date.now() < deadline)) {
        try {
          await counter.increment(1, { signal: AbortSignal.timeout(3_000) });
          acked++;
        } catch (e) {
          expect(isConcordError(e) && (e.code === "UNAVAILABLE" || e.code === "TIMEOUT"), String(e)).toBe(true);
          failed++;
        }
      }
      await resets;
      // A write whose caller saw it fail may still land a moment later (its outcome was unknown).
      await new Promise((r) => setTimeout(r, 500));
      // Every acknowledged increment is there; an unacknowledged one counts once or not at all.
      const total = await b.counter("n").get();
      expect(total).toBeGreaterThanOrEqual(acked);
      expect(total).toBeLessThanOrEqual(acked + failed);
      expect(acked).toBeGreaterThan(0);
      // And the client works on without being reopened.
      const next = await counter.increment(1);
      expect(next).toBeGreaterThan(total);
      expect(next).toBeLessThanOrEqual(acked + failed + 1);
    }, 60_000);
  });
}
