import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/internal/clock.js";
import {
  causalOrder,
  custom,
  fieldMerge,
  fold,
  keepBoth,
  lastWriterWins,
  MemoryEventStore,
  mergeProjection,
  type Json,
  type Projection,
  Replica,
  type ReplicatedEvent,
} from "../../src/replication/index.js";
import { HybridLogicalClock } from "../../src/time/hlc.js";

let n = 0;
function ev(origin: string, clock: Record<string, number>, wallMs: number, data: Json, aggregateId = "agg"): ReplicatedEvent {
  return {
    id: `e${++n}-${origin}`,
    type: "Set",
    aggregateId,
    data,
    metadata: {},
    origin,
    clock,
    hlc: HybridLogicalClock.encode({ wallMs, logical: 0, nodeId: origin }),
  };
}

const list: Projection<Json[]> = { initial: () => [], apply: (s, e) => [...s, e.data] };

describe("causal order", () => {
  it("puts an event after everything it has seen even when its HLC is smaller", () => {
    const first = ev("a", { a: 1 }, 5_000, "first");
    const after = ev("b", { a: 1, b: 1 }, 1_000, "after"); // b's wall clock is behind
    expect(causalOrder([after, first]).map((e) => e.data)).toEqual(["first", "after"]);
  });

  it("breaks ties between concurrent events by HLC, then origin", () => {
    const x = ev("b", { b: 1 }, 10, "b@10");
    const y = ev("a", { a: 1 }, 20, "a@20");
    const z = ev("c", { c: 1 }, 10, "c@10");
    expect(causalOrder([y, z, x]).map((e) => e.data)).toEqual(["b@10", "c@10", "a@20"]);
    expect(causalOrder([x, y, z])).toEqual(causalOrder([z, x, y]));
  });
});

describe("resolvers", () => {
  it("lastWriterWins applies the concurrent event with the greatest HLC and skips the others", () => {
    const base = ev("a", { a: 1 }, 1, "base");
    const fromA = ev("a", { a: 2 }, 30, "a wins");
    const fromB = ev("b", { a: 1, b: 1 }, 20, "b loses");
    const after = ev("b", { a: 2, b: 2 }, 40, "after both");
    const f = fold([after, fromB, fromA, base], list, lastWriterWins());
    expect(f.state).toEqual(["base", "a wins", "after both"]);
    expect(f.skipped).toEqual([fromB.id]);
    expect(f.conflicts).toEqual([
      { event: fromB.id, concurrentWith: [fromA.id], outcome: "skipped" },
      { event: fromA.id, concurrentWith: [fromB.id], outcome: "applied" },
    ]);
  });

  it("lastWriterWins breaks an HLC tie by node id, the same way on every replica", () => {
    const x = ev("node-a", { "node-a": 1 }, 100, "a");
    const y = ev("node-b", { "node-b": 1 }, 100, "b");
    expect(fold([x, y], mergeProjection(), lastWriterWins()).state).toBe("b");
    expect(fold([y, x], mergeProjection(), lastWriterWins()).state).toBe("b");
  });

  it("fieldMerge keeps concurrent edits of different fields and decides a shared field by LWW", () => {
    const created = ev("a", { a: 1 }, 1, { name: "ada", city: "london", age: 36 });
    const editA = ev("a", { a: 2 }, 50, { city: "paris", age: 37 });
    const editB = ev("b", { a: 1, b: 1 }, 60, { name: "ada l.", age: 38 });
    const f = fold([editB, created, editA], mergeProjection(), fieldMerge());
    expect(f.state).toEqual({ name: "ada l.", city: "paris", age: 38 });
    expect(f.conflicts.find((c) => c.event === editA.id)?.outcome).toBe("merged");
    expect(f.conflicts.find((c) => c.event === editB.id)?.outcome).toBe("applied");
    // With last-writer-wins instead, editA is lost as a whole.
    expect(fold([editB, created, editA], mergeProjection(), lastWriterWins()).state).toEqual({ name: "ada l.", city: "london", age: 38 });
  });

  it("fieldMerge decides non-object data as a whole", () => {
    const x = ev("a", { a: 1 }, 10, { v: 1 });
    const y = ev("b", { b: 1 }, 20, "replaced");
    expect(fold([x, y], mergeProjection(), fieldMerge()).state).toBe("replaced");
    expect(fold([x, y], mergeProjection(), fieldMerge()).skipped).toEqual([x.id]);
  });

  it("keepBoth applies every event and reports the conflict", () => {
    const x = ev("a", { a: 1 }, 10, "x");
    const y = ev("b", { b: 1 }, 20, "y");
    const f = fold([y, x], list, keepBoth());
    expect(f.state).toEqual(["x", "y"]);
    expect(f.applied).toEqual([x.id, y.id]);
    expect(f.conflicts.map((c) => [c.event, c.concurrentWith, c.outcome])).toEqual([
      [x.id, [y.id], "applied"],
      [y.id, [x.id], "applied"],
    ]);
  });

  it("custom resolvers decide from the event and its concurrent ones", () => {
    const smallest = custom((e, others) => (others.every((o) => (o.data as number) > (e.data as number)) ? e : null), "smallest");
    const x = ev("a", { a: 1 }, 10, 3);
    const y = ev("b", { b: 1 }, 20, 1);
    const z = ev("c", { c: 1 }, 30, 2);
    expect(smallest.name).toBe("smallest");
    expect(fold([x, y, z], list, smallest).state).toEqual([1]);
    expect(() => custom(5 as never)).toThrow(/fn/);
  });

  it("events without concurrent ones are never handed to the resolver", () => {
    let calls = 0;
    const spy = custom((e) => {
      calls++;
      return e;
    });
    const a1 = ev("a", { a: 1 }, 1, 1);
    const b1 = ev("b", { a: 1, b: 1 }, 2, 2);
    expect(fold([b1, a1], list, spy).state).toEqual([1, 2]);
    expect(calls).toBe(0);
    expect(fold([], list, spy).state).toBeUndefined();
  });
});

describe("resolvers through a Replica", () => {
  it("two replicas editing one aggregate offline agree after exchanging, whichever resolver reads the state", async () => {
    const clock = new ManualClock();
    const a = new Replica({ nodeId: "a", store: new MemoryEventStore(), clock, resolver: keepBoth() });
    const b = new Replica({ nodeId: "b", store: new MemoryEventStore(), clock, resolver: keepBoth() });
    const created = await a.append({ type: "Created", aggregateId: "doc", data: { title: "draft", body: "" } });
    await b.receive([created]);
    clock.advance(5);
    const ea = await a.append({ type: "Edited", aggregateId: "doc", data: { title: "Final" } });
    clock.advance(5);
    const eb = await b.append({ type: "Edited", aggregateId: "doc", data: { body: "text" } });
    expect((await a.receive([eb])).conflicts.map((c) => c.concurrentWith)).toEqual([[ea.id]]);
    expect((await b.receive([ea])).conflicts.map((c) => c.concurrentWith)).toEqual([[eb.id]]);
    for (const r of [a, b]) {
      const p = await r.project("doc");
      expect(p.state).toEqual({ title: "Final", body: "text" });
      expect(p.conflicts.map((c) => c.event).sort()).toEqual([ea.id, eb.id].sort());
      expect(await r.state("doc", { resolver: lastWriterWins() })).toEqual({ title: "draft", body: "text" });
      expect(await r.state("doc", { resolver: fieldMerge() })).toEqual({ title: "Final", body: "text" });
    }
  });
});

describe("a SyncManager's resolver", () => {
  it("is adopted by a replica built without one, and not by one built with its own", async () => {
    const { SyncManager, LocalTransport, Replica: R, MemoryEventStore: M } = await import("../../src/replication/index.js");
    const bare = new R({ nodeId: "a", store: new M() });
    const peer = new R({ nodeId: "b", store: new M() });
    const given = fieldMerge();
    const own = new R({ nodeId: "c", store: new M(), resolver: given });
    const chosen = keepBoth();
    new SyncManager(bare, new LocalTransport(peer), { resolver: chosen });
    new SyncManager(own, new LocalTransport(peer), { resolver: chosen });
    expect(bare.resolver).toBe(chosen);
    expect(own.resolver).toBe(given);
  });
});
