import { describe, expect, it } from "vitest";
import { type ChangeEvent, isConcordError } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";
import { take } from "../helpers/wait.js";

async function rejects(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(isConcordError(e, code as never), `expected ${code}, got ${String(e)}`).toBe(true);
    return;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

for (const name of engineNames()) {
  describe(`value: ${name}`, () => {
    const { open } = useEngine(name);

    it("set returns a version; ifVersion 0 and n are compare-and-set; a failure is a result", async () => {
      const c = await open();
      const v = c.value<{ n: number }>("cfg");
      expect(await v.get()).toBeUndefined();
      const w1 = await v.set({ n: 1 }, { ifVersion: 0 });
      expect(w1.ok).toBe(true);
      const again = await v.set({ n: 9 }, { ifVersion: 0 });
      expect(again).toEqual({ ok: false, current: { value: { n: 1 }, version: w1.ok ? w1.version : -1 } });
      const w2 = await v.set({ n: 2 }, { ifVersion: w1.ok ? w1.version : 0 });
      expect(w2.ok && w1.ok && w2.version > w1.version).toBe(true);
      expect(await v.get()).toEqual({ value: { n: 2 }, version: w2.ok ? w2.version : -1 });
      expect((await v.set({ n: 3 }, { ifVersion: w1.ok ? w1.version : 0 })).ok).toBe(false);
      const del = await v.delete();
      expect(del.ok).toBe(true);
      expect(await v.delete()).toEqual({ ok: false, current: undefined });
    });

    it("watch yields changes after the call, or replays from a version inclusive", async () => {
      const c = await open();
      const v = c.value<string>("w");
      const first = await v.set("a");
      const live = take(v.watch(), 2);
      await c.value("w-other").set("noise");
      await v.set("b");
      await v.delete();
      const evs = await live;
      expect(evs.map((e) => [e.type, e.key, e.value])).toEqual([
        ["put", "w", "b"],
        ["delete", "w", undefined],
      ]);
      const replay = await take(v.watch({ fromVersion: first.ok ? first.version : 0 }), 3);
      expect(replay.map((e) => e.value ?? null)).toEqual(["a", "b", null]);
      expect(replay[0]!.version).toBe(first.ok ? first.version : -1);
    });

    it("codecs: string and bytes store exactly; a wrong codec on read is CORRUPT", async () => {
      const c = await open();
      await c.value("s", { codec: "string" }).set("plain text");
      expect((await c.value("s", { codec: "string" }).get())?.value).toBe("plain text");
      await c.value("b", { codec: "bytes" }).set(new Uint8Array([1, 2, 3]));
      expect([...((await c.value<Uint8Array>("b", { codec: "bytes" }).get())?.value ?? [])]).toEqual([1, 2, 3]);
      await rejects(c.value("s").get(), "CORRUPT");
      const upper = { encode: (s: string) => new TextEncoder().encode(s.toUpperCase()), decode: (b: Uint8Array) => new TextDecoder().decode(b) };
      await c.value("u", { codec: upper }).set("abc");
      expect((await c.value("u", { codec: upper }).get())?.value).toBe("ABC");
    });

    it("a value over maxValueBytes is TOO_LARGE and changes nothing", async () => {
      const c = await open({ maxValueBytes: 1000 });
      await c.value("big").set("small");
      await rejects(c.value("big").set("x".repeat(2000)), "TOO_LARGE");
      expect((await c.value("big").get())?.value).toBe("small");
      const d = await open();
      await rejects(d.value("big").set("x".repeat(1024 * 1024 + 1)), "TOO_LARGE");
    });

    it("bad input is INVALID_ARGUMENT and changes nothing", async () => {
      const c = await open();
      const rev = await c.driver.revision();
      expect(() => c.value("")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(() => c.value("x", { codec: "yaml" as never })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      await rejects(c.value("x").set(undefined), "INVALID_ARGUMENT");
      await rejects(c.value("x").set(1, { ifVersion: -1 }), "INVALID_ARGUMENT");
      await rejects(c.value("x").set(1, { fence: {} as never }), "INVALID_ARGUMENT");
      await rejects(c.value("x").set(1n as never), "INVALID_ARGUMENT");
      expect(await c.driver.revision()).toBe(rev);
    });
  });

  describe(`counter: ${name}`, () => {
    const { open } = useEngine(name);

    it("reads 0 when never written; increment, decrement, set and compareAndSet", async () => {
      const c = await open();
      const n = c.counter("hits");
      expect(await n.get()).toBe(0);
      expect(await n.increment()).toBe(1);
      expect(await n.increment(5)).toBe(6);
      expect(await n.decrement(2)).toBe(4);
      expect(await n.compareAndSet(3, 10)).toBe(false);
      expect(await n.compareAndSet(4, 10)).toBe(true);
      await n.set(-7);
      expect(await n.get()).toBe(-7);
      expect(await n.compareAndSet(0, 1)).toBe(false);
    });

    it("concurrent increments from many clients lose nothing", async () => {
      const clients = await Promise.all(Array.from({ length: 4 }, () => open()));
      await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 25; i++) await c.counter("race").increment();
      }));
      expect(await clients[0]!.counter("race").get()).toBe(100);
    });

    it("watch reports each new value", async () => {
      const c = await open();
      const got = take(c.counter("wc").watch(), 2);
      await c.counter("wc").increment();
      await c.counter("wc").increment(2);
      expect((await got).map((e: ChangeEvent<number>) => e.value)).toEqual([1, 3]);
    });

    it("rejects non-integers", async () => {
      const c = await open();
      await rejects(c.counter("x").increment(1.5), "INVALID_ARGUMENT");
      await rejects(c.counter("x").set(Number.NaN), "INVALID_ARGUMENT");
      await rejects(c.counter("x").increment(Number.MAX_SAFE_INTEGER).then(() => c.counter("x").increment(2)), "INVALID_ARGUMENT");
    });
  });

  describe(`map: ${name}`, () => {
    const { open } = useEngine(name);

    it("put, get, update, remove, entries, keys, size, clear", async () => {
      const c = await open();
      const m = c.map<{ name: string }>("users");
      const p = await m.put("u1", { name: "ann" });
      expect(p.ok).toBe(true);
      expect((await m.put("u1", { name: "x" }, { ifVersion: 0 })).ok).toBe(false);
      await m.put("u/2", { name: "bob" });
      expect(await m.get("u1")).toEqual({ value: { name: "ann" }, version: p.ok ? p.version : -1 });
      expect(await m.keys()).toEqual(["u/2", "u1"]);
      expect(await m.size()).toBe(2);
      await m.update("u1", (u) => ({ name: `${u?.name}!` }));
      expect((await m.get("u1"))?.value).toEqual({ name: "ann!" });
      expect((await m.remove("nope"))).toEqual({ ok: false, current: undefined });
      expect((await m.remove("u/2")).ok).toBe(true);
      expect((await m.entries()).map(([k, v]) => [k, v.value])).toEqual([["u1", { name: "ann!" }]]);
      await m.clear();
      expect(await m.size()).toBe(0);
      expect(await c.map("users-other").size()).toBe(0);
    });

    it("watch yields { type, key, value, version } per entry", async () => {
      const c = await open();
      const m = c.map<number>("wm");
      const got = take(m.watch(), 3);
      await m.put("a", 1);
      await m.put("b", 2);
      await m.remove("a");
      const evs = await got;
      expect(evs.map((e) => [e.type, e.key, e.value])).toEqual([["put", "a", 1], ["put", "b", 2], ["delete", "a", undefined]]);
      expect(evs[2]!.version).toBeGreaterThan(evs[1]!.version);
    });

    it("concurrent updates of one entry from many clients lose nothing", async () => {
      const clients = await Promise.all(Array.from({ length: 4 }, () => open()));
      await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 10; i++) await c.map<number>("m").update("k", (v) => (v ?? 0) + 1);
      }));
      expect((await clients[0]!.map("m").get("k"))?.value).toBe(40);
    });
  });

  describe(`indexedMap: ${name}`, () => {
    const { open } = useEngine(name);

    it("keeps insertion order, whatever the keys: an update keeps its index, a key put again goes last", async () => {
      const c = await open();
      const m = c.indexedMap<string>("ordered");
      const z = await m.append("z", "first");
      const a = await m.append("a", "second");
      await m.put("m", "third");
      expect(z.ok && a.ok && z.index < a.index).toBe(true);
      expect((await m.append("z", "again")).ok).toBe(false); // present: append refuses, and says what stands
      expect(await m.entries()).toMatchObject([{ key: "z", value: "first" }, { key: "a", value: "second" }, { key: "m", value: "third" }]);
      await m.put("z", "updated");
      const z2 = await m.get("z");
      expect(z2).toMatchObject({ key: "z", value: "updated", index: z.ok ? z.index : -1 });
      expect(z2!.version).toBeGreaterThan(z2!.index);
      await m.remove("a");
      await m.put("a", "back");
      expect((await m.entries()).map((e) => e.key)).toEqual(["z", "m", "a"]);
      expect(await m.size()).toBe(3);
    });

    it("reaches entries by index and by neighbour; removeIndex removes only that entry", async () => {
      const c = await open();
      const m = c.indexedMap<number>("walk");
      for (const [i, k] of ["c", "b", "a"].entries()) await m.put(k, i);
      const first = await m.first();
      const last = await m.last();
      expect(first).toMatchObject({ key: "c", value: 0 });
      expect(last).toMatchObject({ key: "a", value: 2 });
      const middle = await m.next(first!.index);
      expect(middle).toMatchObject({ key: "b" });
      expect(await m.prev(middle!.index)).toMatchObject({ key: "c" });
      expect(await m.next(last!.index)).toBeUndefined();
      expect(await m.prev(first!.index)).toBeUndefined();
      expect(await m.getIndex(middle!.index)).toMatchObject({ key: "b", value: 1 });
      expect(await m.removeIndex(middle!.index)).toMatchObject({ key: "b" });
      expect(await m.getIndex(middle!.index)).toBeUndefined();
      expect(await m.next(first!.index)).toMatchObject({ key: "a" }); // past a removed index too
      await m.put("b", 9); // the same key again: a new index, so the old one still names nothing
      expect(await m.removeIndex(middle!.index)).toBeUndefined();
      expect(await m.get("b")).toMatchObject({ value: 9 });
      await rejects(() => m.getIndex(-1), "INVALID_ARGUMENT");
      await rejects(() => m.next(1.5), "INVALID_ARGUMENT");
      await rejects(() => m.append("", 1), "INVALID_ARGUMENT");
      await m.clear();
      expect(await m.first()).toBeUndefined();
    });
  });

  describe(`set: ${name}`, () => {
    const { open } = useEngine(name);
    it("add, has, remove, values, size, clear, watch", async () => {
      const c = await open();
      const s = c.set<string>("members");
      const got = take(s.watch(), 2);
      expect((await s.add("a")).ok).toBe(true);
      expect((await s.add("a")).ok).toBe(false);
      await s.add("b/c");
      expect(await s.has("a")).toBe(true);
      expect(await s.has("z")).toBe(false);
      expect((await s.values()).sort()).toEqual(["a", "b/c"]);
      expect(await s.size()).toBe(2);
      expect((await s.remove("a")).ok).toBe(true);
      expect(await s.remove("a")).toEqual({ ok: false, current: undefined });
      expect((await got).map((e) => e.value)).toEqual(["a", "b/c"]);
      await s.clear();
      expect(await s.size()).toBe(0);
    });
  });

  describe(`list: ${name}`, () => {
    const { open } = useEngine(name);
    it("append, insert, get, set, remove, items, size, clear", async () => {
      const c = await open();
      const l = c.list<string>("backlog");
      await l.append("b");
      await l.append("d");
      await l.insert(0, "a");
      await l.insert(2, "c");
      await l.insert(4, "e");
      expect(await l.items()).toEqual(["a", "b", "c", "d", "e"]);
      expect((await l.get(2))?.value).toBe("c");
      expect(await l.get(9)).toBeUndefined();
      await l.set(1, "B");
      await l.remove(0);
      expect(await l.items()).toEqual(["B", "c", "d", "e"]);
      expect(await l.size()).toBe(4);
      await rejects(l.remove(10), "INVALID_ARGUMENT");
      await rejects(l.insert(-1, "x"), "INVALID_ARGUMENT");
      await l.clear();
      expect(await l.items()).toEqual([]);
    });

    it("keeps order under many inserts at the front and concurrent appends", async () => {
      const clients = await Promise.all(Array.from({ length: 3 }, () => open()));
      const l = clients[0]!.list<number>("order");
      for (let i = 0; i < 30; i++) await l.insert(0, 100 - i);
      expect(await l.items()).toEqual(Array.from({ length: 30 }, (_, i) => 71 + i));
      await l.clear();
      await Promise.all(clients.map(async (c, ci) => {
        for (let i = 0; i < 10; i++) await c.list<number>("order").append(ci * 100 + i);
      }));
      const items = await l.items();
      expect(items.length).toBe(30);
      for (let ci = 0; ci < 3; ci++) {
        const mine = items.filter((x) => Math.floor(x / 100) === ci);
        expect(mine).toEqual(Array.from({ length: 10 }, (_, i) => ci * 100 + i));
      }
    });
  });
}
