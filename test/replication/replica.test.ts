import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.js";
import { ManualClock } from "../../src/internal/clock.js";
import {
  isIdCollision,
  MemoryEventStore,
  Replica,
  type ReplicatedEvent,
  sameEvent,
  validateEvent,
} from "../../src/replication/index.js";
import { HybridLogicalClock } from "../../src/time/hlc.js";

function replica(nodeId: string, clock = new ManualClock()): Replica {
  return new Replica({ nodeId, store: new MemoryEventStore(), clock });
}

function event(over: Partial<Record<keyof ReplicatedEvent, unknown>> = {}): Record<string, unknown> {
  return {
    id: "e1",
    type: "ItemAdded",
    aggregateId: "cart-7",
    data: { sku: "x", qty: 1 },
    metadata: {},
    origin: "n1",
    clock: { n1: 1 },
    hlc: HybridLogicalClock.encode({ wallMs: 1_700_000_000_000, logical: 0, nodeId: "n1" }),
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; collision: boolean }> {
  try {
    await p;
  } catch (e) {
    if (!isConcordError(e)) throw e;
    return { code: e.code, message: e.message, collision: isIdCollision(e) };
  }
  throw new Error("expected a rejection");
}

describe("validateEvent", () => {
  it("accepts a complete event and returns a normalized copy", () => {
    const raw = event({ clock: { n1: 1, b: 0 } });
    const v = validateEvent(raw);
    expect(v).toEqual({ ...raw, clock: { n1: 1 } });
    expect(v).not.toBe(raw);
    expect(validateEvent(event({ metadata: undefined })).metadata).toEqual({});
  });

  it.each([
    ["not an object", 5, /^event: /],
    ["missing id", event({ id: undefined }), /^event\.id: /],
    ["empty type", event({ type: "" }), /^event\.type: /],
    ["numeric aggregateId", event({ aggregateId: 7 }), /^event\.aggregateId: /],
    ["missing data", event({ data: undefined }), /^event\.data: /],
    ["data with NaN", event({ data: { q: Number.NaN } }), /^event\.data\.q: /],
    ["metadata array", event({ metadata: [] }), /^event\.metadata: /],
    ["clock not an object", event({ clock: "x" }), /^event\.clock: /],
    ["clock not counting the event", event({ clock: { other: 3 } }), /^event\.clock: must count/],
    ["bad hlc", event({ hlc: "yesterday" }), /^event\.hlc: /],
    ["hlc of another node", event({ hlc: HybridLogicalClock.encode({ wallMs: 1, logical: 0, nodeId: "n2" }) }), /^event\.hlc: names node/],
    ["unknown field", event({ version: 2 } as never), /^event\.version: unknown field/],
    ["control character in id", event({ id: "a\nb" }), /^event\.id: /],
  ])("refuses %s naming the path", (_name, x, re) => {
    try {
      validateEvent(x, "event");
      expect.unreachable();
    } catch (e) {
      expect(isConcordError(e, "INVALID_ARGUMENT")).toBe(true);
      expect((e as Error).message).toMatch(re);
    }
  });

  it("names the index of the bad event in a batch", () => {
    expect(() => validateEvent(event({ clock: null }), "events[3]")).toThrow(/events\[3\]\.clock/);
  });

  it("sameEvent ignores object key order but not content", () => {
    const a = validateEvent(event());
    const b = validateEvent(event({ data: { qty: 1, sku: "x" } }));
    expect(sameEvent(a, b)).toBe(true);
    expect(sameEvent(a, validateEvent(event({ data: { qty: 2, sku: "x" } })))).toBe(false);
    expect(sameEvent(a, validateEvent(event({ clock: { n1: 2 } })))).toBe(false);
  });
});

describe("Replica", () => {
  it("append fills in id, origin, clock and hlc", async () => {
    const r = replica("laptop-1");
    const e1 = await r.append({ type: "ItemAdded", aggregateId: "cart-7", data: { sku: "a", qty: 1 } });
    const e2 = await r.append({ type: "ItemAdded", aggregateId: "cart-7", data: { sku: "b", qty: 2 } });
    expect(e1.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e1).toMatchObject({ origin: "laptop-1", clock: { "laptop-1": 1 }, metadata: {} });
    expect(e2.clock).toEqual({ "laptop-1": 2 });
    expect(e2.hlc > e1.hlc).toBe(true);
    expect(HybridLogicalClock.decode(e1.hlc).nodeId).toBe("laptop-1");
    expect(await r.version()).toEqual({ "laptop-1": 2 });
    const page = await r.events();
    expect(page.events.map((e) => e.id)).toEqual([e1.id, e2.id]);
    expect(page.cursor).toBe("2");
  });

  it("append with a given id is idempotent, and a different content under that id is a collision", async () => {
    const r = replica("n1");
    const a = await r.append({ id: "order-1", type: "Placed", aggregateId: "o1", data: { total: 5 } });
    const again = await r.append({ id: "order-1", type: "Placed", aggregateId: "o1", data: { total: 5 } });
    expect(again).toEqual(a);
    expect(await r.store.count()).toBe(1);
    const err = await rejection(r.append({ id: "order-1", type: "Placed", aggregateId: "o1", data: { total: 6 } }));
    expect(err).toMatchObject({ code: "INVALID_ARGUMENT", collision: true });
    expect(err.message).toMatch(/conflict/);
    expect(await r.store.count()).toBe(1);
  });

  it("append refuses bad input naming the field and stores nothing", async () => {
    const r = replica("n1");
    expect((await rejection(r.append({ type: "", aggregateId: "a", data: 1 }))).message).toMatch(/^event\.type/);
    expect((await rejection(r.append({ type: "t", aggregateId: "a", data: undefined as never }))).message).toMatch(/^event\.data/);
    expect((await rejection(r.append({ type: "t", aggregateId: "a", data: 1, origin: "x" } as never))).message).toMatch(/^event\.origin/);
    expect((await rejection(r.append({ type: "t", aggregateId: "a", data: (() => 1) as never }))).message).toMatch(/^event\.data/);
    expect(await r.store.count()).toBe(0);
    expect(() => new Replica({ nodeId: "", store: new MemoryEventStore() })).toThrow(/nodeId/);
    expect(() => new Replica({ nodeId: "x", store: {} as never })).toThrow(/store/);
  });

  it("receive stores events of a peer once, keeps their id, origin and clock, and merges clocks", async () => {
    const a = replica("a");
    const b = replica("b");
    const e1 = await a.append({ type: "T", aggregateId: "x", data: 1 });
    const first = await b.receive([e1]);
    expect(first).toEqual({ appended: [e1.id], duplicates: [], conflicts: [] });
    expect(await b.receive([e1, e1])).toEqual({ appended: [], duplicates: [e1.id, e1.id], conflicts: [] });
    expect((await b.events()).events).toEqual([e1]);
    const e2 = await b.append({ type: "T", aggregateId: "x", data: 2 });
    expect(e2.clock).toEqual({ a: 1, b: 1 });
    expect(e2.hlc > e1.hlc).toBe(true);
  });

  it("receive reports events concurrent with held events of the same aggregate", async () => {
    const a = replica("a");
    const b = replica("b");
    const ea = await a.append({ type: "T", aggregateId: "x", data: "from a" });
    const eb = await b.append({ type: "T", aggregateId: "x", data: "from b" });
    const other = await a.append({ type: "T", aggregateId: "y", data: 0 });
    const r = await b.receive([ea, other]);
    expect(r.appended).toEqual([ea.id, other.id]);
    expect(r.conflicts).toEqual([{ aggregateId: "x", event: ea, concurrentWith: [eb.id] }]);
    const later = await b.append({ type: "T", aggregateId: "x", data: "after both" });
    expect((await a.receive([eb, later])).conflicts.map((c) => c.event.id)).toEqual([eb.id]);
  });

  it("receive validates the whole batch first: one bad event stores nothing", async () => {
    const r = replica("n1");
    const good = event({ id: "g1" });
    const err = await rejection(r.receive([good, event({ id: "bad", clock: { n1: -1 } })]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/^events\[1\]\.clock/);
    expect(await r.store.count()).toBe(0);
    expect((await rejection(r.receive("nope" as never))).message).toMatch(/^events/);
  });

  it("receive refuses an id held with different content as a collision and stores nothing of the batch", async () => {
    const r = replica("n1");
    await r.receive([event({ id: "e1" })]);
    const err = await rejection(r.receive([event({ id: "e2" }), event({ id: "e1", data: { sku: "other" } })]));
    expect(err).toMatchObject({ code: "INVALID_ARGUMENT", collision: true });
    expect(err.message).toMatch(/conflict/);
    expect(await r.store.count()).toBe(1);
  });

  it("receive refuses a clock with too many entries as TOO_LARGE", async () => {
    const r = new Replica({ nodeId: "n1", store: new MemoryEventStore(), maxClockEntries: 3 });
    const err = await rejection(r.receive([event({ clock: { n1: 1, a: 1, b: 1, c: 1 } })]));
    expect(err.code).toBe("TOO_LARGE");
    expect(err.message).toMatch(/events\[0\]\.clock/);
    expect(await r.store.count()).toBe(0);
  });

  it("a received timestamp far in the future is stored but does not drag this node's HLC", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const r = replica("n1", clock);
    const future = HybridLogicalClock.encode({ wallMs: clock.now() + 3_600_000, logical: 0, nodeId: "n2" });
    await r.receive([event({ id: "f", origin: "n2", clock: { n2: 1 }, hlc: future })]);
    const mine = await r.append({ type: "T", aggregateId: "z", data: null });
    expect(HybridLogicalClock.decode(mine.hlc).wallMs).toBe(clock.now());
  });

  it("subscribe fires after local appends and receives that stored something", async () => {
    const a = replica("a");
    const b = replica("b");
    const seen: [string[], string][] = [];
    const stop = b.subscribe((events, cursor) => seen.push([events.map((e) => e.id), cursor]));
    const e1 = await a.append({ type: "T", aggregateId: "x", data: 1 });
    await b.receive([e1]);
    await b.receive([e1]);
    const e2 = await b.append({ type: "T", aggregateId: "x", data: 2 });
    stop();
    await b.append({ type: "T", aggregateId: "x", data: 3 });
    expect(seen).toEqual([
      [[e1.id], "1"],
      [[e2.id], "2"],
    ]);
  });

  it("concurrent appends on one replica get distinct clock entries", async () => {
    const r = replica("n");
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => r.append({ type: "T", aggregateId: "x", data: i })));
    expect(new Set(all.map((e) => e.clock["n"])).size).toBe(20);
  });

  it("state folds with the projection; an unknown aggregate is undefined", async () => {
    const r = new Replica<{ total: number }>({
      nodeId: "n",
      store: new MemoryEventStore(),
      projection: { initial: () => ({ total: 0 }), apply: (s, e) => ({ total: s.total + (e.data as number) }) },
    });
    await r.append({ type: "Add", aggregateId: "acc", data: 5 });
    await r.append({ type: "Add", aggregateId: "acc", data: 7 });
    expect(await r.state("acc")).toEqual({ total: 12 });
    expect(await r.state("nobody")).toBeUndefined();
  });

  it("without a projection, object data is merged field by field", async () => {
    const r = replica("n");
    await r.append({ type: "Set", aggregateId: "u", data: { name: "ada", age: 36 } });
    await r.append({ type: "Set", aggregateId: "u", data: { age: 37 } });
    expect(await r.state("u")).toEqual({ name: "ada", age: 37 });
  });

  it("close closes the store; afterwards calls reject with CLOSED; close is idempotent", async () => {
    const r = replica("n");
    await r.close();
    await r.close();
    expect((await rejection(r.append({ type: "T", aggregateId: "x", data: 1 }))).code).toBe("CLOSED");
    expect((await rejection(r.receive([]))).code).toBe("CLOSED");
    expect((await rejection(r.events())).code).toBe("CLOSED");
    expect((await rejection(r.state("x"))).code).toBe("CLOSED");
    expect((await rejection(r.store.count())).code).toBe("CLOSED");
  });
});

describe("concord/replication module", () => {
  it("loads neither pg nor better-sqlite3 when used with a MemoryEventStore", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-lazy-"));
    try {
      const script = join(dir, "probe.mjs");
      writeFileSync(
        script,
        `import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).filter((k) => /node_modules[\\/](pg|better-sqlite3)[\\/]/.test(k)).length;
const m = await import(process.argv[2]);
const r = new m.Replica({ nodeId: "n", store: new m.MemoryEventStore() });
await r.append({ type: "T", aggregateId: "a", data: 1 });
const before = loaded();
new m.SqliteEventStore(":memory:");
console.log(JSON.stringify({ before, after: loaded() }));
`,
      );
      const index = fileURLToPath(new URL("../../src/replication/index.ts", import.meta.url));
      const out = execFileSync(process.execPath, ["--import", "tsx", script, index], { encoding: "utf8", timeout: 20_000 });
      const { before, after } = JSON.parse(out.trim()) as { before: number; after: number };
      expect(before).toBe(0);
      expect(after).toBeGreaterThan(0); // the probe does see a module when one is loaded
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
