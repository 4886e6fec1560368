import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConcordError } from "../../src/errors.js";
import { LocalTransport, type PullFilter, type PushResult } from "../../src/replication/local-transport.js";
import { Replica } from "../../src/replication/replica.js";
import { fieldMerge, keepBoth, lastWriterWins, type Resolver } from "../../src/replication/resolvers.js";
import { MemoryEventStore } from "../../src/replication/stores/memory.js";
import { SyncManager } from "../../src/replication/sync-manager.js";
import type { Cursor, Json, ReadResult, ReplicatedEvent, Transport, VectorClockJSON } from "../../src/replication/types.js";

type Fault = "ok" | "dropRequest" | "dropResponse" | "duplicate";

/**
 * A LocalTransport over a lossy network: each call may be lost on the way (nothing happens), lost
 * on the way back (the peer acted, the caller sees a failure), or delivered twice. A cut link fails
 * every call. Faults come from a list fast-check chose, taken in turn.
 */
class FlakyTransport implements Transport {
  readonly supportsFilter = true as const;
  readonly #inner: LocalTransport;
  readonly #faults: readonly Fault[];
  #next = 0;
  cut = false;
  reliable = false;

  constructor(peer: Replica, faults: readonly Fault[]) {
    this.#inner = new LocalTransport(peer);
    this.#faults = faults.length > 0 ? faults : ["ok"];
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.cut) throw new ConcordError("UNAVAILABLE", "partitioned (test)", { retryable: true });
    const fault = this.reliable ? "ok" : this.#faults[this.#next++ % this.#faults.length]!;
    if (fault === "dropRequest") throw new ConcordError("UNAVAILABLE", "request lost (test)", { retryable: true });
    const r = await fn();
    if (fault === "duplicate") await fn();
    if (fault === "dropResponse") throw new ConcordError("UNAVAILABLE", "response lost (test)", { retryable: true });
    return r;
  }

  push(events: readonly ReplicatedEvent[]): Promise<PushResult> {
    return this.#call(() => this.#inner.push(events));
  }
  pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult> {
    return this.#call(() => this.#inner.pull(since, limit, signal, filter));
  }
  version(): Promise<VectorClockJSON> {
    return this.#call(() => this.#inner.version());
  }
}

type Cmd =
  | { kind: "append"; node: number; agg: number; data: Record<string, Json> }
  | { kind: "sync"; from: number; to: number; direction: "both" | "push" | "pull" }
  | { kind: "partition"; a: number; b: number }
  | { kind: "heal" }
  | { kind: "restart"; from: number; to: number };

const AGGREGATES = ["a0", "a1", "a2"];

const cmd = (n: number): fc.Arbitrary<Cmd> => {
  const node = fc.integer({ min: 0, max: n - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("append" as const), node, agg: fc.integer({ min: 0, max: AGGREGATES.length - 1 }), data: fc.dictionary(fc.constantFrom("x", "y", "z"), fc.integer({ min: 0, max: 9 }), { minKeys: 1, maxKeys: 2 }) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("sync" as const), from: node, to: node, direction: fc.constantFrom("both" as const, "push" as const, "pull" as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("partition" as const), a: node, b: node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("heal" as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), from: node, to: node }) },
  );
};

const scenario = fc.integer({ min: 3, max: 5 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    cmds: fc.array(cmd(n), { minLength: 5, maxLength: 60 }),
    faults: fc.array(fc.constantFrom<Fault>("ok", "ok", "dropRequest", "dropResponse", "duplicate"), { minLength: 1, maxLength: 30 }),
    batchSize: fc.integer({ min: 1, max: 8 }),
    resolver: fc.constantFrom("lww", "fieldMerge", "keepBoth"),
  }),
);

function makeResolver(name: string): Resolver {
  return name === "lww" ? lastWriterWins() : name === "fieldMerge" ? fieldMerge() : keepBoth();
}

async function ids(r: Replica): Promise<string[]> {
  return (await r.events({ limit: 1_000_000 })).events.map((e) => e.id).sort();
}

describe("convergence under random exchange, loss, duplication and partitions", () => {
  it("after a full exchange every replica holds every event once and folds the same state", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, cmds, faults, batchSize, resolver }) => {
        const replicas = Array.from({ length: n }, (_, i) => new Replica({ nodeId: `n${i}`, store: new MemoryEventStore(), resolver: makeResolver(resolver) }));
        const links = new Map<string, { t: FlakyTransport; m: SyncManager }>();
        const link = (from: number, to: number): { t: FlakyTransport; m: SyncManager } => {
          const key = `${from}>${to}`;
          let l = links.get(key);
          if (!l) {
            const t = new FlakyTransport(replicas[to]!, faults.slice((from * 7 + to) % faults.length).concat(faults));
            l = { t, m: new SyncManager(replicas[from]!, t, { batchSize }) };
            links.set(key, l);
          }
          return l;
        };
        const cuts = new Set<string>();
        const written: string[] = [];
        for (const c of cmds) {
          switch (c.kind) {
            case "append":
              written.push((await replicas[c.node]!.append({ type: "Set", aggregateId: AGGREGATES[c.agg]!, data: c.data })).id);
              break;
            case "sync": {
              if (c.from === c.to) break;
              const l = link(c.from, c.to);
              l.t.cut = cuts.has(`${Math.min(c.from, c.to)}|${Math.max(c.from, c.to)}`);
              await (c.direction === "both" ? l.m.sync() : c.direction === "push" ? l.m.push() : l.m.pull());
              break;
            }
            case "partition":
              if (c.a !== c.b) cuts.add(`${Math.min(c.a, c.b)}|${Math.max(c.a, c.b)}`);
              break;
            case "heal":
              cuts.clear();
              break;
            case "restart":
              // The manager forgets its in-memory cursors: it starts over, and ids deduplicate.
              links.delete(`${c.from}>${c.to}`);
              break;
          }
        }
        // The partitions heal and the network calms down; a full exchange (n rounds over a ring covers every path).
        for (let round = 0; round < n; round++) {
          for (let i = 0; i < n; i++) {
            const l = link(i, (i + 1) % n);
            l.t.cut = false;
            l.t.reliable = true;
            const r = await l.m.sync();
            expect(r.errors).toEqual([]);
          }
        }
        const expected = [...written].sort();
        for (const r of replicas) expect(await ids(r)).toEqual(expected);
        for (const agg of AGGREGATES) {
          const s0 = await replicas[0]!.state(agg);
          for (const r of replicas.slice(1)) expect(await r.state(agg)).toEqual(s0);
        }
        for (const r of replicas) expect(await r.version()).toEqual(await replicas[0]!.version());
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
