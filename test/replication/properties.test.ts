import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/internal/clock.js";
import {
  causalOrder,
  concurrent,
  fieldMerge,
  fold,
  happenedBefore,
  type Json,
  keepBoth,
  lastWriterWins,
  MemoryEventStore,
  mergeProjection,
  type Projection,
  Replica,
  type ReplicatedEvent,
  type Resolver,
  VectorClock,
  type VectorClockJSON,
} from "../../src/replication/index.js";

const clockArb: fc.Arbitrary<VectorClockJSON> = fc.dictionary(fc.constantFrom("a", "b", "c", "d"), fc.nat({ max: 4 }));
const nodeArb = fc.constantFrom("a", "b", "c", "d", "e");
const OPPOSITE = { before: "after", after: "before", equal: "equal", concurrent: "concurrent" } as const;

describe("vector clock laws", () => {
  it("compare is a partial order: reflexive, antisymmetric, transitive", () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        expect(VectorClock.compare(a, a)).toBe("equal");
        expect(VectorClock.compare(b, a)).toBe(OPPOSITE[VectorClock.compare(a, b)]);
        const le = (x: VectorClockJSON, y: VectorClockJSON) => ["before", "equal"].includes(VectorClock.compare(x, y));
        if (le(a, b) && le(b, a)) expect(VectorClock.compare(a, b)).toBe("equal");
        if (le(a, b) && le(b, c)) expect(le(a, c)).toBe(true);
        if (VectorClock.compare(a, b) === "before" && VectorClock.compare(b, c) === "before") expect(VectorClock.compare(a, c)).toBe("before");
      }),
      { numRuns: 500 },
    );
  });

  it("merge is commutative, associative, idempotent, and the least upper bound", () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        const m = VectorClock.merge;
        expect(m(a, b)).toEqual(m(b, a));
        expect(m(m(a, b), c)).toEqual(m(a, m(b, c)));
        expect(m(a, a)).toEqual(VectorClock.validate(a));
        expect(m(a, m(a, b))).toEqual(m(a, b));
        const ab = m(a, b);
        expect(["before", "equal"]).toContain(VectorClock.compare(a, ab));
        expect(["before", "equal"]).toContain(VectorClock.compare(b, ab));
        // Least: any clock above both is above the merge.
        if (["before", "equal"].includes(VectorClock.compare(a, c)) && ["before", "equal"].includes(VectorClock.compare(b, c))) {
          expect(["before", "equal"]).toContain(VectorClock.compare(ab, c));
        }
        expect(new VectorClock(a).merge(b).toJSON()).toEqual(ab);
      }),
      { numRuns: 500 },
    );
  });

  it("increment moves a clock strictly after itself and after everything it merged", () => {
    fc.assert(
      fc.property(clockArb, clockArb, nodeArb, (a, b, n) => {
        const next = new VectorClock(a).merge(b).increment(n);
        expect(VectorClock.compare(a, next)).toBe("before");
        expect(VectorClock.compare(b, next)).toBe("before");
        expect(next.get(n)).toBe(Math.max(a[n] ?? 0, b[n] ?? 0) + 1);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- convergence --------------------------------------------------------------------------------

type Op =
  | { kind: "append"; node: number; aggregate: string; data: Json; tickMs: number }
  | { kind: "deliver"; from: number; to: number; pick: number[] };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      node: fc.nat({ max: 4 }),
      aggregate: fc.constantFrom("cart-1", "cart-2", "user-1"),
      data: fc.oneof(
        { weight: 5, arbitrary: fc.dictionary(fc.constantFrom("x", "y", "z"), fc.integer({ min: -5, max: 9 }), { minKeys: 1 }) as fc.Arbitrary<Json> },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }) as fc.Arbitrary<Json> },
      ),
      tickMs: fc.constantFrom(0, 0, 1, 3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deliver" as const),
      from: fc.nat({ max: 4 }),
      to: fc.nat({ max: 4 }),
      // Which of the sender's events travel: a message can be dropped, duplicated or reordered.
      pick: fc.array(fc.nat({ max: 60 }), { maxLength: 12 }),
    }),
  },
);

/** A tiny seeded generator, so one fast-check seed fixes every shuffle. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function shuffled<T>(xs: readonly T[], next: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// Order-sensitive on purpose: two replicas folding in different orders would end up with different lists.
const history: Projection<{ log: Json[]; fields: Record<string, Json> }> = {
  initial: () => ({ log: [], fields: {} }),
  apply: (s, e) => ({
    log: [...s.log, e.data],
    fields: typeof e.data === "object" && e.data !== null && !Array.isArray(e.data) ? { ...s.fields, ...e.data } : { value: e.data },
  }),
};

const RESOLVERS: Record<string, () => Resolver> = { lastWriterWins, fieldMerge, keepBoth };

describe("convergence", () => {
  for (const [name, resolver] of Object.entries(RESOLVERS)) {
    it(`replicas that receive the same events in any order, duplicated, hold the same events and state (${name})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 3, max: 5 }), fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer(), async (count, ops, seed) => {
          const next = rng(seed);
          const clocks = Array.from({ length: count }, () => new ManualClock(1_700_000_000_000));
          const replicas = clocks.map(
            (clock, i) => new Replica({ nodeId: `node-${i}`, store: new MemoryEventStore(), clock, projection: history, resolver: resolver() }),
          );
          // Phase 1: nodes write while partitioned, with lossy, duplicating, reordering partial exchanges.
          for (const op of ops) {
            if (op.kind === "append") {
              const i = op.node % count;
              clocks[i]!.advance(op.tickMs);
              await replicas[i]!.append({ type: "Set", aggregateId: op.aggregate, data: op.data });
            } else {
              const held = (await replicas[op.from % count]!.events({ limit: 10_000 })).events;
              const batch = op.pick.map((k) => held[k % Math.max(1, held.length)]).filter((e): e is ReplicatedEvent => e !== undefined);
              await replicas[op.to % count]!.receive(batch);
            }
          }
          // Phase 2: the partition heals: every replica gets every event, in its own random order,
          // in random batches, with some delivered twice.
          const all = new Map<string, ReplicatedEvent>();
          for (const r of replicas) for (const e of (await r.events({ limit: 10_000 })).events) all.set(e.id, e);
          for (const r of replicas) {
            const stream = shuffled([...all.values(), ...[...all.values()].filter(() => next() < 0.3)], next);
            while (stream.length > 0) await r.receive(stream.splice(0, 1 + Math.floor(next() * 6)));
          }
          const ids = await Promise.all(replicas.map(async (r) => new Set((await r.events({ limit: 10_000 })).events.map((e) => e.id))));
          for (const s of ids) expect(s).toEqual(new Set(all.keys()));
          const versions = await Promise.all(replicas.map((r) => r.version()));
          for (const v of versions) expect(v).toEqual(versions[0]);
          for (const agg of ["cart-1", "cart-2", "user-1"]) {
            const folded = await Promise.all(replicas.map((r) => r.project(agg)));
            for (const f of folded) {
              expect(f.state).toEqual(folded[0]!.state);
              expect(f.order).toEqual(folded[0]!.order);
              expect(f.skipped).toEqual(folded[0]!.skipped);
            }
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it("the fold order is causal and does not depend on the order events are given in", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer(), async (ops, seed) => {
        const clocks = Array.from({ length: 3 }, () => new ManualClock(1_700_000_000_000));
        const replicas = clocks.map((clock, i) => new Replica({ nodeId: `n${i}`, store: new MemoryEventStore(), clock }));
        for (const op of ops) {
          if (op.kind === "append") {
            clocks[op.node % 3]!.advance(op.tickMs);
            await replicas[op.node % 3]!.append({ type: "Set", aggregateId: "agg", data: op.data });
          } else {
            const held = (await replicas[op.from % 3]!.events()).events;
            const to = replicas[op.to % 3]!;
            const batch = op.pick.map((k) => held[k % Math.max(1, held.length)]).filter((e): e is ReplicatedEvent => e !== undefined);
            // What receive reports must be exactly the pairwise answer against what was held, batch included.
            const known = new Map((await to.events()).events.map((e) => [e.id, e]));
            const expected: [string, string[]][] = [];
            for (const e of batch) {
              if (known.has(e.id)) continue;
              const against = [...known.values()].filter((h) => h.aggregateId === e.aggregateId && concurrent(h, e)).map((h) => h.id);
              if (against.length > 0) expected.push([e.id, against.sort()]);
              known.set(e.id, e);
            }
            const r = await to.receive(batch);
            // (concurrentWith names the latest such events: a non-empty part of the pairwise list.)
            expect(r.conflicts.map((c) => c.event.id)).toEqual(expected.map(([id]) => id));
            r.conflicts.forEach((c, i) => {
              expect(c.concurrentWith.length).toBeGreaterThan(0);
              expect(expected[i]![1]).toEqual(expect.arrayContaining(c.concurrentWith));
            });
          }
        }
        const events = (await Promise.all(replicas.map(async (r) => (await r.events()).events))).flat();
        const order = causalOrder(events);
        expect(new Set(order.map((e) => e.id)).size).toBe(order.length);
        for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) expect(happenedBefore(order[j]!, order[i]!)).toBe(false);
        expect(causalOrder(shuffled(events, rng(seed))).map((e) => e.id)).toEqual(order.map((e) => e.id));
        // The fold's concurrency lists (found by binary search per origin) are exactly the pairwise ones.
        const f = fold(events, mergeProjection(), keepBoth());
        const unique = [...new Map(events.map((e) => [e.id, e])).values()];
        for (const e of unique) {
          const pairwise = unique.filter((o) => concurrent(e, o)).map((o) => o.id).sort();
          const found = f.conflicts.find((c) => c.event === e.id)?.concurrentWith ?? [];
          expect([...found].sort()).toEqual(pairwise);
        }
      }),
      { numRuns: 100 },
    );
  });
});
