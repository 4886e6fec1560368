import { describe, expect, it } from "vitest";
import { HybridLogicalClock, type HlcTimestamp, ManualClock } from "../../src/index.js";

describe("HybridLogicalClock", () => {
  it("follows the wall clock and counts events within one millisecond", () => {
    const clock = new ManualClock(1000);
    const h = new HybridLogicalClock("a", { clock });
    expect(h.now()).toEqual({ wallMs: 1000, logical: 0, nodeId: "a" });
    expect(h.now()).toEqual({ wallMs: 1000, logical: 1, nodeId: "a" });
    clock.advance(5);
    expect(h.now()).toEqual({ wallMs: 1005, logical: 0, nodeId: "a" });
  });

  it("stays monotonic when the wall clock jumps backwards", () => {
    let t = 10_000;
    const h = new HybridLogicalClock("a", { clock: { now: () => t, setTimeout: () => 0, clearTimeout: () => {} } });
    const a = h.now();
    t = 5_000;
    const b = h.now();
    const c = h.now();
    expect(HybridLogicalClock.compare(a, b)).toBeLessThan(0);
    expect(HybridLogicalClock.compare(b, c)).toBeLessThan(0);
    expect(b.wallMs).toBe(10_000);
  });

  it("update() moves past a remote timestamp, so a receive follows its send", () => {
    const h = new HybridLogicalClock("b", { clock: new ManualClock(1000) });
    const remote: HlcTimestamp = { wallMs: 1500, logical: 7, nodeId: "a" };
    const r = h.update(remote);
    expect(r).toEqual({ wallMs: 1500, logical: 8, nodeId: "b" });
    expect(HybridLogicalClock.compare(remote, r)).toBeLessThan(0);
    expect(HybridLogicalClock.compare(r, h.now())).toBeLessThan(0);
  });

  it("refuses a remote timestamp too far ahead with INVALID_ARGUMENT, and malformed ones", () => {
    const h = new HybridLogicalClock("b", { clock: new ManualClock(1000), maxDriftMs: 100 });
    const before = h.now();
    expect(() => h.update({ wallMs: 5000, logical: 0, nodeId: "a" })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => h.update({ wallMs: -1, logical: 0, nodeId: "a" })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => h.update({ wallMs: 1, logical: 0.5, nodeId: "a" } as HlcTimestamp)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(HybridLogicalClock.compare(before, h.now())).toBeLessThan(0);
    expect(() => new HybridLogicalClock("")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("encode sorts the way compare orders, and decode inverts it", () => {
    const ts: HlcTimestamp[] = [
      { wallMs: 5, logical: 0, nodeId: "b" },
      { wallMs: 1_700_000_000_000, logical: 3, nodeId: "a" },
      { wallMs: 1_700_000_000_000, logical: 12, nodeId: "a" },
      { wallMs: 1_700_000_000_000, logical: 12, nodeId: "b" },
      { wallMs: 99, logical: 99, nodeId: "z.y" },
    ];
    const byCompare = [...ts].sort(HybridLogicalClock.compare);
    const byString = [...ts].sort((x, y) => (HybridLogicalClock.encode(x) < HybridLogicalClock.encode(y) ? -1 : 1));
    expect(byString).toEqual(byCompare);
    for (const t of ts) expect(HybridLogicalClock.decode(HybridLogicalClock.encode(t))).toEqual(t);
    expect(() => HybridLogicalClock.decode("nope")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});
