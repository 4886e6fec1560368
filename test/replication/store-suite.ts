/**
 * The conformance suite every EventStore passes: `testEventStore("sqlite", factory)` in a few lines.
 * Each test gets an empty store of its own from the factory.
 */
import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.js";
import { type EventStore, isIdCollision, type ReplicatedEvent, VectorClock } from "../../src/replication/index.js";
import { HybridLogicalClock } from "../../src/time/hlc.js";

export interface StoreUnderTest {
  store: EventStore;
  /** Another client of the same storage (a second process as far as the store can tell), for durable stores. */
  reopen?: () => Promise<EventStore>;
}

export type StoreFactory = () => Promise<StoreUnderTest>;

/** A valid event: `seq` is its origin's clock entry; `over` replaces fields. */
export function makeEvent(origin: string, seq: number, over: Partial<ReplicatedEvent> = {}): ReplicatedEvent {
  return {
    id: `${origin}-${seq}`,
    type: "Changed",
    aggregateId: "agg-1",
    data: { n: seq, text: "héllo ✓", nested: { list: [1, 2.5, null, true], z: "last", a: "first" } },
    metadata: { by: origin },
    origin,
    clock: { [origin]: seq },
    hlc: HybridLogicalClock.encode({ wallMs: 1_700_000_000_000 + seq, logical: 0, nodeId: origin }),
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await p;
  } catch (e) {
    if (!isConcordError(e)) throw e;
    return e;
  }
  throw new Error("expected a rejection");
}

async function readAll(store: EventStore, opts: { limit: number; aggregateIds?: string[]; types?: string[]; excludeOrigin?: string }): Promise<{ ids: string[]; cursor: string; pages: number }> {
  const ids: string[] = [];
  let cursor = "";
  let pages = 0;
  for (;;) {
    const page = await store.read({ ...opts, since: cursor });
    pages++;
    expect(page.events.length).toBeLessThanOrEqual(opts.limit);
    ids.push(...page.events.map((e) => e.id));
    if (page.events.length === 0) {
      expect(page.cursor).toBe(cursor === "" ? page.cursor : cursor);
      return { ids, cursor: page.cursor, pages };
    }
    cursor = page.cursor;
  }
}

export interface SuiteOptions {
  /** The store keeps events across clients (files, servers): `reopen` is given and tested. */
  durable?: boolean;
}

export function testEventStore(name: string, factory: StoreFactory, opts: SuiteOptions = {}): void {
  describe(`EventStore conformance: ${name}`, () => {
    it("starts empty", async () => {
      const { store } = await factory();
      expect(await store.count()).toBe(0);
      expect(await store.version()).toEqual({});
      const head = await store.head();
      expect(await store.read()).toEqual({ events: [], cursor: head });
      expect(await store.read({ since: "" })).toEqual({ events: [], cursor: head });
      await store.close();
    });

    it("appends and reads back events with their content intact, in append order", async () => {
      const { store } = await factory();
      const events = [makeEvent("a", 1), makeEvent("b", 1, { data: "plain string", metadata: {} }), makeEvent("a", 2, { data: null, aggregateId: "agg-2" })];
      expect(await store.append(events)).toEqual({ appended: ["a-1", "b-1", "a-2"], duplicates: [] });
      const page = await store.read();
      expect(page.events).toEqual(events);
      expect(Object.keys((page.events[0]!.data as { nested: object }).nested)).toEqual(["list", "z", "a"]);
      expect(page.cursor).toBe(await store.head());
      expect(await store.count()).toBe(3);
      await store.close();
    });

    it("append is idempotent by id: re-delivered events are duplicates and stored once", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1), makeEvent("a", 2)]);
      const head = await store.head();
      expect(await store.append([makeEvent("a", 2), makeEvent("a", 3), makeEvent("a", 3)])).toEqual({ appended: ["a-3"], duplicates: ["a-2", "a-3"] });
      // Same content with keys in another order is the same event.
      const reordered = makeEvent("a", 1, { data: { nested: { a: "first", z: "last", list: [1, 2.5, null, true] }, text: "héllo ✓", n: 1 } });
      expect(await store.append([reordered])).toEqual({ appended: [], duplicates: ["a-1"] });
      expect(await store.count()).toBe(3);
      expect(Number(await store.head())).toBe(Number(head) + 1);
      expect(await store.append([])).toEqual({ appended: [], duplicates: [] });
      await store.close();
    });

    it("the same id with different content rejects the whole batch and stores nothing of it", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1)]);
      const head = await store.head();
      const version = await store.version();
      const err = await rejection(store.append([makeEvent("b", 1), makeEvent("a", 1, { data: { other: true } }), makeEvent("b", 2)]));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(isIdCollision(err)).toBe(true);
      expect(err.message).toMatch(/conflict/);
      expect(err.message).toMatch(/events\[1\]/);
      // Two events with one id and different content inside one batch collide too.
      expect(isIdCollision(await rejection(store.append([makeEvent("c", 1), makeEvent("c", 1, { type: "Other" })])))).toBe(true);
      expect(await store.count()).toBe(1);
      expect(await store.head()).toBe(head);
      expect(await store.version()).toEqual(version);
      expect(await store.has(["b-1", "b-2", "c-1"])).toEqual(new Set());
      await store.close();
    });

    it("pages by cursor with a limit: no gaps, no duplicates, and a cursor that stops moving at the end", async () => {
      const { store } = await factory();
      const all: string[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const events = Array.from({ length: 5 }, (_, i) => makeEvent("a", batch * 5 + i + 1));
        await store.append(events);
        all.push(...events.map((e) => e.id));
      }
      for (const limit of [1, 7, 25, 1000]) {
        const r = await readAll(store, { limit });
        expect(r.ids).toEqual(all);
        expect(r.cursor).toBe(await store.head());
      }
      const first = await store.read({ limit: 10 });
      expect(first.events).toHaveLength(10);
      const end = await store.read({ since: await store.head() });
      expect(end).toEqual({ events: [], cursor: await store.head() });
      // A cursor keeps working while more is appended behind it.
      await store.append([makeEvent("b", 1)]);
      const rest = await readAll(store, { limit: 100 });
      expect(rest.ids).toEqual([...all, "b-1"]);
      const more = await store.read({ since: first.cursor, limit: 100 });
      expect(more.events.map((e) => e.id)).toEqual([...all.slice(10), "b-1"]);
      await store.close();
    });

    it("filters by aggregate, type and excluded origin, paging past events that do not match", async () => {
      const { store } = await factory();
      const events: ReplicatedEvent[] = [];
      for (let i = 1; i <= 30; i++) {
        const origin = i % 3 === 0 ? "c" : i % 2 === 0 ? "b" : "a";
        events.push(makeEvent(origin, i, { id: `e${i}`, aggregateId: `agg-${i % 4}`, type: i % 5 === 0 ? "Deleted" : "Changed", clock: { [origin]: i } }));
      }
      await store.append(events);
      const ids = (pred: (e: ReplicatedEvent) => boolean) => events.filter(pred).map((e) => e.id);
      expect((await readAll(store, { limit: 4, aggregateIds: ["agg-1", "agg-3"] })).ids).toEqual(ids((e) => e.aggregateId === "agg-1" || e.aggregateId === "agg-3"));
      expect((await readAll(store, { limit: 2, types: ["Deleted"] })).ids).toEqual(ids((e) => e.type === "Deleted"));
      expect((await readAll(store, { limit: 5, excludeOrigin: "a" })).ids).toEqual(ids((e) => e.origin !== "a"));
      expect((await readAll(store, { limit: 3, aggregateIds: ["agg-2"], types: ["Changed"], excludeOrigin: "b" })).ids).toEqual(
        ids((e) => e.aggregateId === "agg-2" && e.type === "Changed" && e.origin !== "b"),
      );
      // Nothing matches: one page, empty, and the cursor moves past everything scanned.
      const none = await store.read({ aggregateIds: ["nobody"] });
      expect(none).toEqual({ events: [], cursor: await store.head() });
      expect(await store.read({ aggregateIds: [] })).toEqual({ events: [], cursor: await store.head() });
      await store.close();
    });

    it("byAggregate returns one aggregate's events in append order", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1, { aggregateId: "x" }), makeEvent("a", 2, { aggregateId: "y" }), makeEvent("b", 1, { aggregateId: "x" })]);
      await store.append([makeEvent("a", 3, { aggregateId: "x" })]);
      expect((await store.byAggregate("x")).map((e) => e.id)).toEqual(["a-1", "b-1", "a-3"]);
      expect((await store.byAggregate("y")).map((e) => e.id)).toEqual(["a-2"]);
      expect(await store.byAggregate("none")).toEqual([]);
      await store.close();
    });

    it("get and has find events by id", async () => {
      const { store } = await factory();
      const e = makeEvent("a", 1);
      await store.append([e, makeEvent("a", 2)]);
      expect(await store.get("a-1")).toEqual(e);
      expect(await store.get("missing")).toBeUndefined();
      expect(await store.has(["a-1", "missing", "a-2"])).toEqual(new Set(["a-1", "a-2"]));
      expect(await store.has([])).toEqual(new Set());
      await store.close();
    });

    it("version is the merge of the clocks of every stored event", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1), makeEvent("b", 1, { clock: { a: 1, b: 1 } })]);
      await store.append([makeEvent("a", 2, { clock: { a: 2 } }), makeEvent("c", 4, { clock: { b: 1, c: 4 } })]);
      expect(await store.version()).toEqual(VectorClock.merge({ a: 1 }, { a: 1, b: 1 }, { a: 2 }, { b: 1, c: 4 }));
      expect(await store.version()).toEqual({ a: 2, b: 1, c: 4 });
      await store.close();
    });

    it("refuses bad arguments with INVALID_ARGUMENT naming the argument, changing nothing", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1)]);
      const cases: [Promise<unknown>, RegExp][] = [
        [store.read({ limit: 0 }), /^limit/],
        [store.read({ limit: -3 }), /^limit/],
        [store.read({ limit: 1.5 }), /^limit/],
        [store.read({ limit: "5" as never }), /^limit/],
        [store.read({ since: "abc" }), /^since/],
        [store.read({ since: "-1" }), /^since/],
        [store.read({ since: "1.5" }), /^since/],
        [store.read({ since: 3 as never }), /^since/],
        [store.read({ aggregateIds: "agg-1" as never }), /^aggregateIds/],
        [store.read({ types: [5] as never }), /^types\[0\]/],
        [store.read({ excludeOrigin: "" }), /^excludeOrigin/],
        [store.append("nope" as never), /^events/],
        [store.append([makeEvent("b", 1), { ...makeEvent("b", 2), clock: { b: -1 } }]), /^events\[1\]\.clock/],
        [store.append([{ ...makeEvent("b", 3), id: "" }]), /^events\[0\]\.id/],
        [store.get(""), /^id/],
        [store.has("a-1" as never), /^ids/],
        [store.byAggregate(7 as never), /^aggregateId/],
      ];
      for (const [p, re] of cases) {
        const err = await rejection(p);
        expect(err.code, err.message).toBe("INVALID_ARGUMENT");
        expect(err.message).toMatch(re);
      }
      expect(await store.count()).toBe(1);
      expect(await store.has(["b-1"])).toEqual(new Set());
      await store.close();
    });

    it("rejects every call with CLOSED after close, which is idempotent", async () => {
      const { store } = await factory();
      await store.append([makeEvent("a", 1)]);
      await store.close();
      await store.close();
      for (const p of [store.append([makeEvent("a", 2)]), store.read(), store.byAggregate("agg-1"), store.get("a-1"), store.has(["a-1"]), store.version(), store.head(), store.count()]) {
        expect((await rejection(p)).code).toBe("CLOSED");
      }
    });

    if (opts.durable) it("a reader following cursors while two clients append sees every event exactly once", async () => {
      const s = await factory();
      if (!s.reopen) throw new Error(`${name}: a durable store's factory must give reopen`);
      const writer2 = await s.reopen();
      const reader = await s.reopen();
      const seen: string[] = [];
      let cursor = "";
      let writing = true;
      const follow = (async () => {
        for (;;) {
          const done = !writing; // one more pass after the writers finish
          const page = await reader.read({ since: cursor, limit: 7 });
          seen.push(...page.events.map((e) => e.id));
          cursor = page.cursor;
          if (page.events.length === 0) {
            if (done) return;
            await new Promise((r) => setTimeout(r, 2));
          }
        }
      })();
      await Promise.all([
        (async () => {
          for (let i = 1; i <= 40; i++) await s.store.append([makeEvent("w1", i)]);
        })(),
        (async () => {
          for (let i = 1; i <= 40; i += 2) await writer2.append([makeEvent("w2", i), makeEvent("w2", i + 1)]);
        })(),
      ]);
      writing = false;
      await follow;
      expect(seen).toHaveLength(80);
      expect(new Set(seen).size).toBe(80);
      for (const st of [s.store, writer2, reader]) await st.close();
    });

    // Only stores that outlive their object: the memory store has no second client to give.
    if (opts.durable) it("keeps events for the next client, and two clients appending at once lose nothing", async () => {
      const s = await factory();
      if (!s.reopen) throw new Error(`${name}: a durable store's factory must give reopen`);
      await s.store.append([makeEvent("a", 1), makeEvent("a", 2)]);
      const other = await s.reopen();
      expect((await other.read()).events.map((e) => e.id)).toEqual(["a-1", "a-2"]);
      await Promise.all([
        (async () => {
          for (let i = 3; i <= 22; i++) await s.store.append([makeEvent("a", i)]);
        })(),
        (async () => {
          for (let i = 1; i <= 20; i++) await other.append([makeEvent("b", i), makeEvent("b", i + 100)]);
        })(),
      ]);
      const r = await readAll(other, { limit: 9 });
      expect(r.ids).toHaveLength(62);
      expect(new Set(r.ids).size).toBe(62);
      expect(await s.store.count()).toBe(62);
      expect(await other.version()).toEqual({ a: 22, b: 120 });
      await s.store.close();
      await other.close();
    });
  });
}
