import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Driver, WatchEvent } from "../../src/driver/types.js";
import { isConcordError } from "../../src/errors.js";
import { ManualClock } from "../../src/internal/clock.js";
import type { EngineUnderTest } from "../helpers/engines.js";
import { take } from "../helpers/wait.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(isConcordError(e), `expected a ConcordError, got ${String(e)}`).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/**
 * The Driver contract (DESIGN §2) as one suite. Every engine runs it unchanged; a third-party
 * driver proves itself the same way. The engine is given a ManualClock so lease tests do not sleep.
 */
export function driverConformance(makeEngine: () => EngineUnderTest): void {
  let eng: EngineUnderTest;
  let clock: ManualClock;
  let d: Driver;

  beforeEach(async () => {
    eng = makeEngine();
    clock = new ManualClock(Date.now());
    d = await eng.open(clock);
  });
  afterEach(async () => {
    await d.close();
    eng.cleanup();
  });

  describe("reads and writes", () => {
    it("put returns an entry whose revisions strictly increase with every write", async () => {
      const r0 = await d.revision();
      const a = await d.put("a", enc("1"));
      const b = await d.put("a", enc("2"));
      expect(a.ok && b.ok).toBe(true);
      if (!a.ok || !b.ok) return;
      expect(a.entry.modRevision).toBeGreaterThan(r0);
      expect(b.entry.modRevision).toBeGreaterThan(a.entry.modRevision);
      expect(b.entry.createRevision).toBe(a.entry.modRevision);
      expect(await d.revision()).toBe(b.entry.modRevision);
      const got = await d.get("a");
      expect(dec(got?.value)).toBe("2");
      expect(got?.modRevision).toBe(b.entry.modRevision);
    });

    it("get of an absent key is undefined", async () => {
      expect(await d.get("nope")).toBeUndefined();
    });

    it("ifVersion 0 writes only if absent, and a failed write changes nothing", async () => {
      const a = await d.put("k", enc("x"), { ifVersion: 0 });
      expect(a.ok).toBe(true);
      const rev = await d.revision();
      const b = await d.put("k", enc("y"), { ifVersion: 0 });
      expect(b.ok).toBe(false);
      if (!b.ok) expect(dec(b.current?.value)).toBe("x");
      expect(await d.revision()).toBe(rev);
      expect(dec((await d.get("k"))?.value)).toBe("x");
    });

    it("ifVersion n writes only if modRevision is n", async () => {
      const a = await d.put("k", enc("x"));
      if (!a.ok) throw new Error("put failed");
      const stale = await d.put("k", enc("y"), { ifVersion: a.entry.modRevision + 100 });
      expect(stale.ok).toBe(false);
      const fresh = await d.put("k", enc("z"), { ifVersion: a.entry.modRevision });
      expect(fresh.ok).toBe(true);
      const again = await d.put("k", enc("w"), { ifVersion: a.entry.modRevision });
      expect(again.ok).toBe(false);
      expect(dec((await d.get("k"))?.value)).toBe("z");
      expect((await d.put("absent", enc("v"), { ifVersion: 5 })).ok).toBe(false);
    });

    it("delete honours ifVersion and reports an absent key as not ok", async () => {
      const a = await d.put("k", enc("x"));
      if (!a.ok) throw new Error("put failed");
      expect((await d.delete("k", { ifVersion: a.entry.modRevision + 1 })).ok).toBe(false);
      const del = await d.delete("k", { ifVersion: a.entry.modRevision });
      expect(del.ok).toBe(true);
      if (del.ok) expect(del.revision).toBeGreaterThan(a.entry.modRevision);
      expect(await d.get("k")).toBeUndefined();
      const again = await d.delete("k");
      expect(again).toEqual({ ok: false, current: undefined });
    });

    it("a re-created key gets a new createRevision", async () => {
      const a = await d.put("k", enc("x"));
      await d.delete("k");
      const b = await d.put("k", enc("y"));
      if (!a.ok || !b.ok) throw new Error("put failed");
      expect(b.entry.createRevision).toBeGreaterThan(a.entry.createRevision);
    });

    it("a guarded write happens only while the guard key is at its version", async () => {
      const g = await d.put("guard", enc("holder"));
      if (!g.ok) throw new Error("put failed");
      const okPut = await d.put("data", enc("1"), { guard: { key: "guard", version: g.entry.modRevision } });
      expect(okPut.ok).toBe(true);
      await d.put("guard", enc("next holder"));
      const stale = await d.put("data", enc("2"), { guard: { key: "guard", version: g.entry.modRevision } });
      expect(stale.ok).toBe(false);
      if (!stale.ok) expect(stale.guardFailed).toBe(true);
      const staleDel = await d.delete("data", { guard: { key: "guard", version: g.entry.modRevision } });
      expect(staleDel.ok).toBe(false);
      expect(dec((await d.get("data"))?.value)).toBe("1");
      await d.delete("guard");
      expect((await d.put("data", enc("3"), { guard: { key: "guard", version: g.entry.modRevision } })).ok).toBe(false);
    });

    it("values are bytes, stored exactly, including empty ones", async () => {
      const bytes = new Uint8Array([0, 255, 1, 128, 0]);
      await d.put("bin", bytes);
      await d.put("empty", new Uint8Array());
      expect([...((await d.get("bin"))?.value ?? [])]).toEqual([0, 255, 1, 128, 0]);
      expect((await d.get("empty"))?.value.length).toBe(0);
    });

    it("two clients see one keyspace", async () => {
      const other = await eng.open(clock);
      try {
        await d.put("shared", enc("from-a"));
        expect(dec((await other.get("shared"))?.value)).toBe("from-a");
        const r = await other.put("shared", enc("from-b"));
        expect(r.ok && r.entry.modRevision).toBe(await d.revision());
      } finally {
        await other.close();
      }
    });
  });

  describe("batch (an optional acceleration: the engines that offer it)", () => {
    /** Which drivers offer `batch`; the task queue uses it where offered and falls back elsewhere. */
    const OFFERS_BATCH = new Set(["redis", "postgres", "sqlite"]);

    /** The driver's batch, checked to be offered exactly where expected; undefined where it is not. */
    function batchOf(): NonNullable<Driver["batch"]> | undefined {
      expect(d.batch !== undefined, `${eng.name} offers batch`).toBe(OFFERS_BATCH.has(eng.name));
      return d.batch?.bind(d);
    }

    it("applies every op in order, each with a revision and a watch event of its own", async () => {
      const batch = batchOf();
      if (!batch) return;
      await d.put("b/gone", enc("x"));
      const r0 = await d.revision();
      const events = take(d.watch("b/", { fromRevision: r0 + 1 }), 3);
      const r = await batch([
        { type: "put", key: "b/1", value: enc("one"), ifVersion: 0 },
        { type: "delete", key: "b/gone" },
        { type: "put", key: "b/2", value: enc("two") },
      ]);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const [p1, del, p2] = r.results;
      expect(p1!.ok && del!.ok && p2!.ok).toBe(true);
      if (!p1!.ok || !("entry" in p1!) || !p2!.ok || !("entry" in p2!) || !del!.ok || !("revision" in del!)) throw new Error("unexpected result shape");
      expect([p1.entry.modRevision, del.revision, p2.entry.modRevision]).toEqual([r0 + 1, r0 + 2, r0 + 3]);
      expect((await events).map((e) => [e.type, e.key, e.revision])).toEqual([
        ["put", "b/1", r0 + 1],
        ["delete", "b/gone", r0 + 2],
        ["put", "b/2", r0 + 3],
      ]);
      expect(dec((await d.get("b/2"))?.value)).toBe("two");
    });

    it("writes nothing when any condition fails, and names the op", async () => {
      const batch = batchOf();
      if (!batch) return;
      const g = await d.put("b/guard", enc("holder"));
      await d.put("b/taken", enc("first"));
      if (!g.ok) throw new Error("put failed");
      const r0 = await d.revision();
      const clash = await batch([
        { type: "put", key: "b/new", value: enc("n"), ifVersion: 0 },
        { type: "put", key: "b/taken", value: enc("second"), ifVersion: 0 },
      ]);
      expect(clash.ok).toBe(false);
      if (!clash.ok) {
        expect(clash.failed).toBe(1);
        expect(clash.result.ok).toBe(false);
        if (!clash.result.ok) expect(dec(clash.result.current?.value)).toBe("first");
      }
      await d.put("b/guard", enc("next holder"));
      const r1 = await d.revision();
      const fenced = await batch([
        { type: "put", key: "b/data", value: enc("d"), guard: { key: "b/guard", version: g.entry.modRevision } },
        { type: "delete", key: "b/taken" },
      ]);
      expect(fenced.ok).toBe(false);
      if (!fenced.ok) expect(fenced.failed).toBe(0);
      expect(await d.get("b/new")).toBeUndefined();
      expect(await d.get("b/data")).toBeUndefined();
      expect(dec((await d.get("b/taken"))?.value)).toBe("first");
      expect(r1).toBe(r0 + 1);
      expect(await d.revision()).toBe(r1);
    });

    it("refuses a write under an expired lease, and bad batches with INVALID_ARGUMENT naming the op", async () => {
      const batch = batchOf();
      if (!batch) return;
      const lease = await d.grantLease(1000);
      clock.advance(1500);
      await expectCode(batch([{ type: "put", key: "b/l", value: enc("x"), lease: lease.id }]), "NOT_HELD");
      expect(await d.get("b/l")).toBeUndefined();
      await expectCode(batch([]), "INVALID_ARGUMENT");
      await expectCode(batch([{ type: "put", key: "b/x", value: enc("1") }, { type: "delete", key: "b/x" }]), "INVALID_ARGUMENT");
      await expectCode(batch([{ type: "put", key: "b/x", value: enc("1") }, { type: "put", key: "b/y", value: enc("1"), guard: { key: "b/x", version: 1 } }]), "INVALID_ARGUMENT");
      await expectCode(batch([{ type: "nope" } as never]), "INVALID_ARGUMENT");
      expect(await d.get("b/x")).toBeUndefined();
    });
  });

  describe("range", () => {
    it("returns the keys under a prefix in key order with the revision read at", async () => {
      for (const k of ["p/c", "p/a", "q/a", "p/b", "p", "pa"]) await d.put(k, enc(k));
      const r = await d.range("p/");
      expect(r.entries.map((e) => e.key)).toEqual(["p/a", "p/b", "p/c"]);
      expect(r.revision).toBe(await d.revision());
      expect(r.more).toBe(false);
    });

    it("pages with limit and startAfter without skipping or repeating", async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(3, "0")}`);
      for (const k of [...keys].reverse()) await d.put(k, enc(k));
      const seen: string[] = [];
      let startAfter: string | undefined;
      for (;;) {
        const r = await d.range("page/", { limit: 7, ...(startAfter ? { startAfter } : {}) });
        seen.push(...r.entries.map((e) => e.key));
        if (!r.more) break;
        startAfter = r.entries[r.entries.length - 1]!.key;
      }
      expect(seen).toEqual(keys);
    });

    it("deletePrefix removes only that prefix, one delete event per key", async () => {
      for (const k of ["x/1", "x/2", "x/3", "y/1"]) await d.put(k, enc(k));
      const from = (await d.revision()) + 1;
      const res = await d.deletePrefix("x/");
      expect(res.deleted).toBe(3);
      expect((await d.range("x/")).entries).toEqual([]);
      expect((await d.range("y/")).entries.length).toBe(1);
      const evs = await take(d.watch("", { fromRevision: from }), 3);
      expect(evs.map((e) => [e.type, e.key])).toEqual([
        ["delete", "x/1"],
        ["delete", "x/2"],
        ["delete", "x/3"],
      ]);
    });
  });

  describe("leases", () => {
    it("lease expiry deletes attached keys, with delete events", async () => {
      const lease = await d.grantLease(2000);
      expect(lease.ttlMs).toBeGreaterThanOrEqual(2000);
      await d.put("eph/1", enc("a"), { lease: lease.id });
      await d.put("eph/2", enc("b"), { lease: lease.id });
      await d.put("eph/keep", enc("c"));
      const from = (await d.revision()) + 1;
      clock.advance(1000);
      expect(await d.get("eph/1")).toBeDefined();
      clock.advance(lease.ttlMs);
      const evs = await take(d.watch("eph/", { fromRevision: from }), 2);
      expect(evs.map((e) => e.type)).toEqual(["delete", "delete"]);
      expect(evs.map((e) => e.key).sort()).toEqual(["eph/1", "eph/2"]);
      expect(await d.get("eph/1")).toBeUndefined();
      expect(await d.get("eph/keep")).toBeDefined();
      expect(await d.keepAlive(lease.id)).toBe(false);
    });

    it("keepAlive extends a lease by its TTL from now", async () => {
      const lease = await d.grantLease(2000);
      await d.put("ka", enc("a"), { lease: lease.id });
      for (let i = 0; i < 5; i++) {
        clock.advance(1500);
        expect(await d.keepAlive(lease.id)).toBe(true);
      }
      expect(await d.get("ka")).toBeDefined();
      const from = (await d.revision()) + 1; // before the expiry, whose delete is the next change
      clock.advance(2500);
      await take(d.watch("ka", { fromRevision: from }), 1);
      expect(await d.get("ka")).toBeUndefined();
    });

    it("revoke deletes attached keys at once and later keep-alives fail", async () => {
      const lease = await d.grantLease(60_000);
      await d.put("r/1", enc("a"), { lease: lease.id });
      await d.revokeLease(lease.id);
      expect(await d.get("r/1")).toBeUndefined();
      expect(await d.keepAlive(lease.id)).toBe(false);
      await d.revokeLease(lease.id); // no-op
    });

    it("a write attached to an expired lease is refused and changes nothing", async () => {
      const lease = await d.grantLease(1000);
      await d.revokeLease(lease.id);
      const rev = await d.revision();
      await expectCode(d.put("late", enc("x"), { lease: lease.id }), "NOT_HELD");
      expect(await d.get("late")).toBeUndefined();
      expect(await d.revision()).toBe(rev);
    });

    it("rewriting a key without a lease detaches it from the lease", async () => {
      const lease = await d.grantLease(1000);
      await d.put("detach", enc("a"), { lease: lease.id });
      await d.put("detach", enc("b"));
      await d.revokeLease(lease.id);
      expect(dec((await d.get("detach"))?.value)).toBe("b");
    });
  });

  describe("watch", () => {
    it("replays from a revision, then delivers live changes, in order with no gap and no duplicate", async () => {
      const first = await d.put("w/a", enc("1"));
      if (!first.ok) throw new Error("put failed");
      await d.put("w/b", enc("2"));
      await d.put("other", enc("x"));
      await d.delete("w/a");
      const events: WatchEvent[] = [];
      const ac = new AbortController();
      const done = (async () => {
        for await (const ev of d.watch("w/", { fromRevision: first.entry.modRevision, signal: ac.signal })) {
          events.push(ev);
          if (events.length === 3) await d.put("w/c", enc("3"));
          if (events.length === 4) ac.abort();
        }
      })();
      await done;
      expect(events.map((e) => [e.type, e.key])).toEqual([
        ["put", "w/a"],
        ["put", "w/b"],
        ["delete", "w/a"],
        ["put", "w/c"],
      ]);
      const revs = events.map((e) => e.revision);
      expect([...revs].sort((a, b) => a - b)).toEqual(revs);
      const put = events[3]!;
      expect(put.type === "put" && dec(put.entry.value)).toBe("3");
    });

    it("without fromRevision delivers only changes after the call", async () => {
      await d.put("n/old", enc("1"));
      const it = d.watch("n/");
      const got = take(it, 1);
      await d.put("n/new", enc("2"));
      expect((await got).map((e) => e.key)).toEqual(["n/new"]);
    });

    it("delivers every change of concurrent writers to another client exactly once", async () => {
      const other = await eng.open(clock);
      try {
        const from = (await d.revision()) + 1;
        const n = 200;
        const got = take(other.watch("c/", { fromRevision: from }), n, 10_000);
        await Promise.all([
          (async () => {
            for (let i = 0; i < n / 2; i++) await d.put(`c/a${i}`, enc("a"));
          })(),
          (async () => {
            for (let i = 0; i < n / 2; i++) await other.put(`c/b${i}`, enc("b"));
          })(),
        ]);
        const evs = await got;
        expect(evs.length).toBe(n);
        expect(new Set(evs.map((e) => e.key)).size).toBe(n);
        for (let i = 1; i < evs.length; i++) expect(evs[i]!.revision).toBeGreaterThan(evs[i - 1]!.revision);
      } finally {
        await other.close();
      }
    });

    it("throws COMPACTED for history it no longer has", async () => {
      for (let i = 0; i < 5; i++) await d.put("h", enc(String(i)));
      const rev = await d.revision();
      await d.compact(rev);
      await expectCode(take(d.watch("h", { fromRevision: rev - 3 }), 1), "COMPACTED");
      const ok = take(d.watch("h", { fromRevision: rev }), 1);
      expect((await ok)[0]?.revision).toBe(rev);
    });

    it("break ends the iteration and a watch ends when the driver closes", async () => {
      const other = await eng.open(clock);
      const seen: string[] = [];
      const loop = (async () => {
        for await (const ev of other.watch("z/")) seen.push(ev.key);
      })();
      await other.close();
      await loop;
      expect(seen).toEqual([]);
      await d.put("z/1", enc("1"));
      await d.put("z/2", enc("2"));
      for await (const ev of d.watch("z/", { fromRevision: 1 })) {
        seen.push(ev.key);
        break;
      }
      expect(seen).toEqual(["z/1"]);
    });
  });

  describe("lifecycle and bad input", () => {
    it("every call after close rejects with CLOSED, and close is idempotent", async () => {
      const other = await eng.open(clock);
      await other.close();
      await other.close();
      await expectCode(other.get("a"), "CLOSED");
      await expectCode(other.put("a", enc("x")), "CLOSED");
      await expectCode(other.grantLease(5000), "CLOSED");
    });

    it("supports await using", async () => {
      {
        await using other = await eng.open(clock);
        await other.put("disposed", enc("x"));
      }
      expect(dec((await d.get("disposed"))?.value)).toBe("x");
    });

    it("honours an aborted signal", async () => {
      const ac = new AbortController();
      ac.abort(new Error("stop"));
      await expectCode(d.put("sig", enc("x"), { signal: ac.signal }), "ABORTED");
      expect(await d.get("sig")).toBeUndefined();
    });

    it("rejects bad keys, versions and TTLs with INVALID_ARGUMENT and changes nothing", async () => {
      const rev = await d.revision();
      const cases: Array<[string, () => Promise<unknown>]> = [
        ["empty key", () => d.put("", enc("x"))],
        ["control character", () => d.put("a\u0000b", enc("x"))],
        ["newline", () => d.put("a\nb", enc("x"))],
        ["over-long key", () => d.put("k".repeat(5000), enc("x"))],
        ["non-bytes value", () => d.put("k", "text" as unknown as Uint8Array)],
        ["negative ifVersion", () => d.put("k", enc("x"), { ifVersion: -1 })],
        ["fractional ifVersion", () => d.put("k", enc("x"), { ifVersion: 1.5 })],
        ["ttl below floor", () => d.grantLease(10)],
        ["ttl not a number", () => d.grantLease(Number.NaN)],
        ["zero limit", () => d.range("a", { limit: 0 })],
        ["empty lease id", () => d.keepAlive("")],
      ];
      for (const [what, call] of cases) {
        try {
          await call();
          throw new Error(`${what}: accepted`);
        } catch (e) {
          expect(isConcordError(e, "INVALID_ARGUMENT"), `${what}: ${String(e)}`).toBe(true);
        }
      }
      expect(await d.revision()).toBe(rev);
    });

    it("time() is the engine clock in ms", async () => {
      const t = await d.time();
      expect(Math.abs(t - clock.now())).toBeLessThan(5000);
    });
  });
}
