import { describe, expect, it } from "vitest";
import type { TaskQueue } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";
import { sleep, until } from "../helpers/wait.js";

/** Works the queue's "k" tasks until task `id` is done, and checks that it ran exactly once. */
async function expectRunsOnce(q: TaskQueue, id: string): Promise<void> {
  let runs = 0;
  const w = q.work({ k: () => void runs++ });
  await q.result(id, { timeoutMs: 10_000 });
  await sleep(50);
  expect(runs).toBe(1);
  await w.close();
}

for (const name of engineNames()) {
  describe(`tasks: ${name}`, () => {
    const { open } = useEngine(name);

    it("runs every submitted task once, with results awaited, across several workers", async () => {
      const a = await open();
      const b = await open();
      const q = a.tasks("jobs");
      const runs = new Map<number, number>();
      const handler = async (p: { n: number }): Promise<number> => {
        runs.set(p.n, (runs.get(p.n) ?? 0) + 1);
        return p.n * 2;
      };
      const w1 = q.work({ double: handler }, { concurrency: 3 });
      const w2 = b.tasks("jobs").work({ double: handler }, { concurrency: 3 });
      const ids = await Promise.all(Array.from({ length: 30 }, (_, n) => q.submit("double", { n }).then((r) => r.id)));
      const outcomes = await Promise.all(ids.map((id) => q.result(id, { timeoutMs: 20_000 })));
      expect(outcomes.map((o) => (o.state === "done" ? o.result : o.error))).toEqual(Array.from({ length: 30 }, (_, n) => n * 2));
      expect([...runs.values()].every((c) => c === 1)).toBe(true);
      expect(await q.stats()).toMatchObject({ done: 30, active: 0, waiting: 0, failed: 0 });
      await Promise.all([w1.close(), w2.close()]);
    });

    it("submit with an id is idempotent", async () => {
      const a = await open();
      const q = a.tasks("idem");
      const first = await q.submit("k", { v: 1 }, { id: "order-7" });
      const again = await q.submit("k", { v: 2 }, { id: "order-7" });
      expect(again.payload).toEqual({ v: 1 });
      expect(first.id).toBe("order-7");
      expect((await q.stats()).waiting).toBe(1);
      await expectRunsOnce(q, "order-7");
    });

    it("the same id submitted many times at once, from two clients, is one task", async () => {
      const a = await open();
      const b = await open();
      const qa = a.tasks("idem-race");
      const qb = b.tasks("idem-race");
      const submitted = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? qa : qb).submit("k", { v: i }, { id: "dup" })));
      // Every submit answers with the one task that stands: whichever came first.
      expect(new Set(submitted.map((t) => JSON.stringify(t.payload))).size).toBe(1);
      expect(await qa.stats()).toMatchObject({ waiting: 1 });
      await expectRunsOnce(qa, "dup");
    });

    it("retries with backoff up to `attempts`, then dead-letters with the error", async () => {
      const a = await open();
      const q = a.tasks("retry");
      const attempts: number[] = [];
      const w = q.work({ flaky: (_p, ctx) => { attempts.push(ctx.attempt); throw new Error(`boom ${ctx.attempt}`); } });
      const t = await q.submit("flaky", null, { attempts: 3, backoff: { delayMs: 20 } });
      const out = await q.result(t.id, { timeoutMs: 10_000 });
      expect(out).toEqual({ state: "failed", error: "boom 3" });
      expect(attempts).toEqual([1, 2, 3]);
      expect((await q.failed()).map((r) => r.id)).toEqual([t.id]);
      await w.close();
    });

    it("watch reports every step of a task's life, completions and failures included, and replays from a version", async () => {
      const a = await open();
      const q = a.tasks("events");
      const ac = new AbortController();
      const seen: Array<{ id: string; state: string; attempt: number; version: number }> = [];
      const from = (await a.driver.revision()) + 1; // no race with the submits below
      const watching = (async () => {
        for await (const r of q.watch({ signal: ac.signal, fromVersion: from })) {
          seen.push({ id: r.id, state: r.state, attempt: r.attempt, version: r.version });
          if (seen.filter((s) => s.state === "done" || s.state === "failed").length === 2) return;
        }
      })();
      const w = q.work({ ok: () => 42, bad: () => { throw new Error("no"); } });
      const good = await q.submit("ok", null, { id: "good" });
      await q.submit("bad", null, { id: "bad", attempts: 1 });
      await watching;
      ac.abort();
      const of = (id: string): string[] => seen.filter((s) => s.id === id).map((s) => s.state);
      expect(of("good")).toEqual(["waiting", "active", "done"]);
      expect(of("bad")).toEqual(["waiting", "active", "failed"]);
      expect(seen.every((s, i) => i === 0 || s.version > seen[i - 1]!.version)).toBe(true);
      // From the first change's version, the same story is told again.
      const replay: string[] = [];
      for await (const r of q.watch({ fromVersion: seen[0]!.version })) {
        if (r.id === good.id) replay.push(r.state);
        if (r.id === good.id && r.state === "done") break;
      }
      expect(replay).toEqual(["waiting", "active", "done"]);
      expect(() => q.watch({ fromVersion: -1 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      await w.close();
    });

    it("a delayed task does not run early; priorities run lower first", async () => {
      const a = await open();
      const q = a.tasks("delay");
      const started: string[] = [];
      const t0 = Date.now();
      const late = await q.submit("run", "late", { delayMs: 1500 }); // long enough for the others to finish on a loaded machine
      await q.submit("run", "low", { priority: 5 });
      await q.submit("run", "high", { priority: -5 });
      let lateAt = 0;
      const w = q.work({ run: (p: string) => { started.push(p); if (p === "late") lateAt = Date.now(); } });
      await q.result(late.id, { timeoutMs: 10_000 });
      expect(lateAt - t0).toBeGreaterThanOrEqual(1500);
      expect(started).toEqual(["high", "low", "late"]);
      await w.close();
    });

    it("a task whose claim is lost runs again elsewhere", async () => {
      const a = await open();
      const b = await open();
      const q = a.tasks("lost");
      let firstSignal: AbortSignal | undefined;
      const wa = q.work({ slow: async (_p, ctx) => { firstSignal ??= ctx.signal; await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("lost")))); } }, { claimTtlMs: 1000 });
      const t = await q.submit("slow", null, { attempts: 3 });
      await until(() => firstSignal !== undefined);
      // the worker's lease vanishes as if its process died
      // a claim is the task's index entry, put again under the worker's lease
      const claim = (await a.driver.range("concord/tasks/lost/q/")).entries.find((e) => e.lease !== undefined)!;
      await a.driver.revokeLease(claim.lease!);
      await until(() => firstSignal?.aborted, 5000, "the handler's signal to abort on claim loss");
      // wa may have claimed the retry itself; closing it gives the task back without spending an attempt
      await wa.close();
      const wb = b.tasks("lost").work({ slow: (_p, ctx) => `ran on attempt ${ctx.attempt}` });
      expect(await q.result(t.id, { timeoutMs: 10_000 })).toEqual({ state: "done", result: "ran on attempt 2" });
      await wb.close();
    });

    it("schedule enqueues one task per tick however many processes schedule it; runOnce runs one at a time", async () => {
      const a = await open();
      const b = await open();
      const stops = [a, b].map((c) => c.tasks("cron").schedule("tick", { everyMs: 200 }, "tick"));
      await sleep(650);
      for (const s of stops) s();
      const ids = (await a.tasks("cron").failed()).length + (await a.tasks("cron").stats()).waiting;
      expect(ids).toBeGreaterThanOrEqual(3);
      expect(ids).toBeLessThanOrEqual(5);
      let inside = 0;
      let max = 0;
      await Promise.all([a, b, a, b].map((c) => c.runOnce("report", async () => { inside++; max = Math.max(max, inside); await sleep(10); inside--; })));
      expect(max).toBe(1);
    });

    it("bad input is INVALID_ARGUMENT and enqueues nothing", async () => {
      const a = await open();
      const q = a.tasks("bad");
      for (const call of [() => q.submit("", 1), () => q.submit("k", 1, { attempts: 0 }), () => q.submit("k", 1, { delayMs: -1 }), () => q.submit("k", 1, { id: "a/b" })]) {
        await expect(call()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      }
      expect(() => q.work({ k: 5 as never })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(() => q.work({}, { concurrency: 0 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(await q.stats()).toEqual({ waiting: 0, delayed: 0, active: 0, done: 0, failed: 0 });
    });
  });
}

describe("task retention", () => {
  it("prune drops finished tasks past retainMs, and then the id may be submitted anew", async () => {
    const { connect } = await import("../../src/index.js");
    const c = await connect(`memory:retain-${Date.now()}`);
    const q = c.tasks("r", { retainMs: 0 });
    const w = q.work({ k: () => "ok" });
    await q.submit("k", 1, { id: "once" });
    await q.result("once", { timeoutMs: 5000 });
    await w.close();
    expect(await q.prune()).toBe(1);
    expect(await q.get("once")).toBeUndefined();
    expect((await q.submit("k", 2, { id: "once" })).payload).toBe(2);
    await c.close();
  });
});
