import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConcordError, isConcordError } from "../../src/errors.js";
import { ManualClock } from "../../src/internal/clock.js";
import { bearerAuth, createSyncHandler } from "../../src/replication/http/handler.js";
import { HttpTransport } from "../../src/replication/http/transport.js";
import { LocalTransport, type PullFilter, type PushResult } from "../../src/replication/local-transport.js";
import { Replica } from "../../src/replication/replica.js";
import { MemoryEventStore } from "../../src/replication/stores/memory.js";
import { type CursorStore, SyncManager, type SyncResult } from "../../src/replication/sync-manager.js";
import type { Cursor, ReadResult, ReplicatedEvent, Transport, VectorClockJSON } from "../../src/replication/types.js";
import { until } from "../helpers/wait.js";

const servers: Server[] = [];
const managers: SyncManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function replica(nodeId: string): Replica {
  return new Replica({ nodeId, store: new MemoryEventStore() });
}

function manager(r: Replica, t: Transport, opts: ConstructorParameters<typeof SyncManager>[2] = {}): SyncManager {
  const m = new SyncManager(r, t, opts);
  managers.push(m);
  return m;
}

async function listen(r: Replica, port = 0, token?: string): Promise<{ url: string; server: Server; port: number }> {
  const server = createServer(createSyncHandler(r, token === undefined ? {} : { authorize: bearerAuth(token) }));
  servers.push(server);
  await new Promise<void>((ok) => server.listen(port, "127.0.0.1", ok));
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}/`, server, port: p };
}

async function ids(r: Replica): Promise<string[]> {
  return (await r.events({ limit: 1_000_000 })).events.map((e) => e.id).sort();
}

async function writeOffline(r: Replica, n: number, aggregates: string[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const aggregateId = aggregates[i % aggregates.length]!;
    await r.append({ type: "Set", aggregateId, data: { [`${r.nodeId}-${i % 3}`]: i, last: r.nodeId } });
  }
}

/** A transport that counts calls and fails on demand. */
class Faulty implements Transport {
  readonly supportsFilter = true as const;
  down = false;
  /** Fail the n-th call from now (1-based) of this kind, counting down. */
  failPushAfter = Infinity;
  failPullAfter = Infinity;
  pushes: ReplicatedEvent[][] = [];
  pulls = 0;
  readonly #inner: LocalTransport;
  constructor(peer: Replica) {
    this.#inner = new LocalTransport(peer);
  }
  #gate(): void {
    if (this.down) throw new ConcordError("UNAVAILABLE", "peer down (test)", { retryable: true });
  }
  async push(events: readonly ReplicatedEvent[]): Promise<PushResult> {
    this.#gate();
    if (--this.failPushAfter <= 0) throw new ConcordError("UNAVAILABLE", "connection cut (test)", { retryable: true });
    this.pushes.push([...events]);
    return this.#inner.push(events);
  }
  async pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult> {
    this.#gate();
    if (--this.failPullAfter <= 0) throw new ConcordError("UNAVAILABLE", "connection cut (test)", { retryable: true });
    this.pulls++;
    return this.#inner.pull(since, limit, signal, filter);
  }
  async version(): Promise<VectorClockJSON> {
    this.#gate();
    return this.#inner.version();
  }
}

describe("SyncManager", () => {
  it("two replicas written offline converge over LocalTransport: same ids, same state", async () => {
    const a = replica("a");
    const b = replica("b");
    await writeOffline(a, 30, ["cart-1", "cart-2"]);
    await writeOffline(b, 20, ["cart-2", "cart-3"]);
    const m = manager(a, new LocalTransport(b), { batchSize: 7 });
    const r = await m.sync();
    expect(r).toMatchObject({ pushed: 30, pulled: 20, errors: [] });
    expect(r.conflicts).toBeGreaterThan(0);
    expect(await ids(a)).toEqual(await ids(b));
    expect((await ids(a)).length).toBe(50);
    for (const agg of ["cart-1", "cart-2", "cart-3"]) expect(await a.state(agg)).toEqual(await b.state(agg));
    // A second round finds nothing to move, and pushes nothing the peer's version covers.
    expect(await m.sync()).toMatchObject({ pushed: 0, pulled: 0, conflicts: 0, errors: [] });
  });

  it("two replicas converge over real HTTP with a bearer token, and offline writes after that sync too", async () => {
    const server = replica("server");
    const laptop = replica("laptop");
    const { url } = await listen(server, 0, "tok");
    await writeOffline(server, 15, ["doc"]);
    await writeOffline(laptop, 25, ["doc", "other"]);
    const m = manager(laptop, new HttpTransport(url, { token: "tok", gzipMinBytes: 512 }), { batchSize: 10 });
    expect(await m.sync()).toMatchObject({ pushed: 25, pulled: 15, errors: [] });
    expect(await ids(laptop)).toEqual(await ids(server));
    expect(await laptop.state("doc")).toEqual(await server.state("doc"));
    await writeOffline(laptop, 3, ["doc"]);
    await writeOffline(server, 4, ["doc"]);
    expect(await m.sync()).toMatchObject({ pushed: 3, pulled: 4, errors: [] });
    expect(await ids(laptop)).toEqual(await ids(server));
    expect(await laptop.state("doc")).toEqual(await server.state("doc"));
  });

  it("three replicas through a hub (HTTP) and a side link (local) all end with the same events and state", async () => {
    const hub = replica("hub");
    const a = replica("a");
    const b = replica("b");
    const c = replica("c");
    const { url } = await listen(hub);
    await writeOffline(a, 10, ["x", "y"]);
    await writeOffline(b, 10, ["y", "z"]);
    await writeOffline(c, 10, ["x", "z"]);
    await writeOffline(hub, 5, ["x"]);
    const ma = manager(a, new HttpTransport(url));
    const mb = manager(b, new HttpTransport(url));
    const mc = manager(c, new LocalTransport(a));
    // c reaches b's events through a, which gets them from the hub: three rounds cover that path in this order.
    for (let round = 0; round < 3; round++) {
      for (const m of [mc, ma, mb]) expect((await m.sync()).errors).toEqual([]);
    }
    const all = await ids(hub);
    expect(all.length).toBe(35);
    for (const r of [a, b, c]) expect(await ids(r)).toEqual(all);
    for (const agg of ["x", "y", "z"]) {
      const s = await hub.state(agg);
      for (const r of [a, b, c]) expect(await r.state(agg)).toEqual(s);
    }
  });

  it("an interrupted round resumes from its cursors: nothing lost, nothing sent twice after the cut", async () => {
    const a = replica("a");
    const b = replica("b");
    await writeOffline(a, 50, ["k"]);
    await writeOffline(b, 40, ["k"]);
    const t = new Faulty(b);
    const m = manager(a, t, { batchSize: 10 });
    t.failPushAfter = 3; // two pages go, the third fails
    const cut = await m.sync();
    expect(cut.pushed).toBe(20);
    expect(cut.errors[0]?.code).toBe("UNAVAILABLE");
    expect((await b.events({ limit: 1000 })).events.filter((e) => e.origin === "a").length).toBe(20);
    t.failPushAfter = Infinity;
    t.failPullAfter = 2; // one page of pull, then cut
    const second = await m.sync();
    expect(second.pushed).toBe(30);
    expect(second.pulled).toBe(10);
    expect(second.errors.length).toBe(1);
    t.failPullAfter = Infinity;
    const third = await m.sync();
    expect(third).toMatchObject({ pushed: 0, pulled: 30, errors: [] });
    // Every event of a crossed the wire exactly once.
    const sent = t.pushes.flat().map((e) => e.id);
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.length).toBe(50);
    expect(await ids(a)).toEqual(await ids(b));
  });

  it("cursors kept in a cursorStore let a new manager resume where the old one stopped", async () => {
    const a = replica("a");
    const b = replica("b");
    await writeOffline(b, 12, ["k"]);
    const saved = new Map<string, string>();
    const store: CursorStore = { get: (k) => saved.get(k), set: (k, v) => void saved.set(k, v) };
    await manager(a, new LocalTransport(b), { cursorStore: store, peer: "b" }).sync();
    expect(saved.get("a:b:pull")).toBe("12");
    await writeOffline(b, 3, ["k"]);
    const t = new Faulty(b);
    const again = await manager(a, t, { cursorStore: store, peer: "b", batchSize: 100 }).sync();
    expect(again).toMatchObject({ pulled: 3, errors: [] });
    expect(t.pushes.flat().length).toBe(0);
  });

  it("push-only and pull-only move one way; a filter limits what travels", async () => {
    const a = replica("a");
    const b = replica("b");
    await writeOffline(a, 4, ["p", "q"]);
    await writeOffline(b, 6, ["p", "q"]);
    expect(await manager(a, new LocalTransport(b), { direction: "push" }).sync()).toMatchObject({ pushed: 4, pulled: 0 });
    expect((await ids(a)).length).toBe(4);
    const c = replica("c");
    expect(await manager(c, new LocalTransport(b), { direction: "pull", filter: { aggregateIds: ["p"] } }).sync()).toMatchObject({ pushed: 0, pulled: 5 });
    expect((await c.events()).events.every((e) => e.aggregateId === "p")).toBe(true);
    const d = replica("d");
    const byFn = await manager(d, new LocalTransport(b), { filter: (e) => e.origin === "a" }).sync();
    expect(byFn.pulled).toBe(4);
    expect(() => new SyncManager(a, new LocalTransport(b), { direction: "sideways" as never })).toThrow(/direction/);
    expect(() => new SyncManager(a, new LocalTransport(b), { batchSize: 0 })).toThrow(/batchSize/);
  });

  it("start() backs off exponentially while the peer is down, then returns to the interval; metrics and subscribe report it", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const recording = {
      now: () => clock.now(),
      setTimeout: (fn: () => void, ms: number) => {
        delays.push(ms);
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (h: unknown) => clock.clearTimeout(h),
    };
    const a = replica("a");
    const b = replica("b");
    await writeOffline(a, 3, ["k"]);
    const t = new Faulty(b);
    t.down = true;
    const m = manager(a, t, { intervalMs: 10_000, backoff: { initialMs: 100, maxMs: 1_000 }, jitter: 0, clock: recording });
    const results: SyncResult[] = [];
    m.subscribe((r) => results.push(r));
    m.start();
    const settle = async (n: number): Promise<void> => {
      await until(() => results.length >= n && delays.length >= n + 1, 5000, `round ${n}`);
    };
    for (let i = 1; i <= 6; i++) {
      clock.advance(delays[delays.length - 1]!);
      await settle(i);
    }
    expect(delays).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
    expect(results.every((r) => r.errors[0]?.code === "UNAVAILABLE")).toBe(true);
    expect(m.metrics()).toMatchObject({ failures: 6, rounds: 6, pushed: 0, lastSyncAt: undefined, lagMs: undefined });
    t.down = false;
    clock.advance(1000);
    await settle(7);
    expect(results[6]).toMatchObject({ pushed: 3, errors: [] });
    expect(delays[7]).toBe(10_000);
    expect(m.metrics()).toMatchObject({ failures: 6, rounds: 7, pushed: 3, lastSyncAt: clock.now(), lagMs: 0 });
    clock.advance(2500);
    expect(m.metrics().lagMs).toBe(2500);
    await m.stop();
  });

  it("jitter takes a random part off each delay", async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const a = replica("a");
    const t = new Faulty(replica("b"));
    t.down = true;
    const m = manager(a, t, {
      backoff: { initialMs: 1000, maxMs: 8000 },
      jitter: 0.5,
      random: () => 0.5,
      clock: { now: () => clock.now(), setTimeout: (fn, ms) => (delays.push(ms), clock.setTimeout(fn, ms)), clearTimeout: (h) => clock.clearTimeout(h) },
    });
    let rounds = 0;
    m.subscribe(() => rounds++);
    m.start();
    clock.advance(0);
    await until(() => rounds === 1 && delays.length === 2);
    expect(delays[1]).toBe(750);
    await m.stop();
  });

  it("a real HTTP peer that is down, then comes back on the same port: the automatic sync catches up", async () => {
    const server = replica("server");
    const first = await listen(server);
    const port = first.port;
    first.server.closeAllConnections();
    await new Promise((r) => first.server.close(r));
    servers.splice(servers.indexOf(first.server), 1);
    const laptop = replica("laptop");
    await writeOffline(laptop, 5, ["k"]);
    const m = manager(laptop, new HttpTransport(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 }), { intervalMs: 60_000, backoff: { initialMs: 20, maxMs: 100 } });
    m.start();
    await until(() => m.metrics().failures >= 2, 5000, "failures while the peer is down");
    expect(m.metrics().lastSyncAt).toBeUndefined();
    await listen(server, port);
    await until(async () => (await ids(server)).length === 5, 5000, "catch-up after the peer returned");
    await until(() => m.metrics().lastSyncAt !== undefined);
    expect(m.metrics().pushed).toBe(5);
    await m.stop();
  });

  it("live: a connected peer's new event arrives through the stream without waiting for the interval", async () => {
    const server = replica("server");
    const { url } = await listen(server);
    const laptop = replica("laptop");
    const m = manager(laptop, new HttpTransport(url), { intervalMs: 600_000, live: true });
    m.start();
    await until(() => m.metrics().rounds >= 1);
    const e = await server.append({ type: "Ping", aggregateId: "live", data: { n: 1 } });
    await until(async () => (await laptop.events()).events.some((x) => x.id === e.id), 3000, "the live event");
    expect(m.metrics().pulled).toBe(1);
    // Own events never come back over the stream (excludeOrigin) and the cursor follows the stream.
    expect((await m.cursors()).pull).toBe("1");
    await m.stop();
  });

  it("live over LocalTransport reconnects after the stream fails", async () => {
    const b = replica("b");
    const a = replica("a");
    const inner = new LocalTransport(b);
    let opened = 0;
    const t: Transport = {
      push: (e) => inner.push(e),
      pull: (s, l, sig) => inner.pull(s, l, sig),
      version: () => inner.version(),
      stream: async (since, on, signal) => {
        if (++opened === 1) throw new ConcordError("UNAVAILABLE", "first stream breaks (test)", { retryable: true });
        return inner.stream(since, on, signal);
      },
    };
    const m = manager(a, t, { intervalMs: 600_000, live: true, backoff: { initialMs: 10, maxMs: 20 } });
    m.start();
    await until(() => opened >= 2);
    const e = await b.append({ type: "T", aggregateId: "x", data: 1 });
    await until(async () => (await a.events()).events.some((x) => x.id === e.id), 3000, "the event after reconnect");
    expect(m.metrics().failures).toBeGreaterThanOrEqual(1);
    await m.stop();
  });

  it("registerMetrics exposes the counters through a prom-client registry, one label per peer", async () => {
    const { Registry } = await import("prom-client");
    const registry = new Registry();
    const a = replica("a");
    const b = replica("b");
    await writeOffline(a, 3, ["k"]);
    await writeOffline(b, 2, ["k"]);
    const m1 = manager(a, new LocalTransport(b), { peer: "b" });
    const m2 = manager(a, new LocalTransport(replica("c")), { peer: "c" });
    await m1.registerMetrics(registry);
    const off = await m2.registerMetrics(registry);
    await m1.sync();
    const text = await registry.metrics();
    expect(text).toContain('concord_sync_pushed_total{peer="b"} 3');
    expect(text).toContain('concord_sync_pulled_total{peer="b"} 2');
    expect(text).toContain('concord_sync_rounds_total{peer="c"} 0');
    expect(text).toMatch(/concord_sync_lag_seconds\{peer="b"\} \d/);
    expect(text).not.toContain('concord_sync_lag_seconds{peer="c"}');
    off();
    expect(await registry.metrics()).not.toContain('peer="c"');
  });

  it("a peer refusing the token fails the round with a non-retryable error in the result; close() refuses more rounds", async () => {
    const server = replica("server");
    const { url } = await listen(server, 0, "right");
    const m = manager(replica("l"), new HttpTransport(url, { token: "wrong" }));
    const r = await m.sync();
    expect(r.errors[0]?.code).toBe("UNAVAILABLE");
    expect(r.errors[0]?.retryable).toBe(false);
    await m.close();
    const closed = await m.sync().catch((e: unknown) => e);
    expect(isConcordError(closed, "CLOSED")).toBe(true);
  });
});
