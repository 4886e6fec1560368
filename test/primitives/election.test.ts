import { describe, expect, it } from "vitest";
import { isConcordError, type LeaderInfo } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";
import { sleep, until } from "../helpers/wait.js";

for (const name of engineNames()) {
  describe(`election: ${name}`, () => {
    const { open } = useEngine(name);

    it("the first candidate leads; on resign the next leads with a higher term", async () => {
      const a = await open();
      const b = await open();
      const la = await a.election("e", { id: "a" }).campaign({ value: "A" });
      expect(await b.election("e").leader()).toEqual({ id: "a", term: la.term, value: "A" });
      let bLeads = false;
      const pb = b.election("e", { id: "b" }).campaign({ value: "B" }).then((l) => ((bLeads = true), l));
      await until(async () => (await a.election("e").candidates()).length === 2);
      expect(bLeads).toBe(false);
      expect((await a.election("e").candidates()).map((c) => c.id)).toEqual(["a", "b"]);
      await la.resign();
      expect(la.signal.aborted).toBe(true);
      const lb = await pb;
      expect(lb.term).toBeGreaterThan(la.term);
      expect((await a.election("e").leader())?.id).toBe("b");
      await lb.resign();
      expect(await a.election("e").leader()).toBeUndefined();
    });

    it("observe yields the current leader, then every change, terms never going back", async () => {
      const a = await open();
      const b = await open();
      const watcher = await open();
      const seen: Array<LeaderInfo | undefined> = [];
      const ac = new AbortController();
      const done = (async () => {
        for await (const l of watcher.election("obs").observe({ signal: ac.signal })) seen.push(l);
      })();
      await until(() => seen.length === 1);
      expect(seen[0]).toBeUndefined();
      const la = await a.election("obs", { id: "a" }).campaign({ value: 1 });
      await until(() => seen.length === 2);
      await la.proclaim(2);
      await until(() => seen.length === 3);
      const pb = b.election("obs", { id: "b" }).campaign();
      await sleep(30);
      await la.resign();
      const lb = await pb;
      await until(() => seen.some((s) => s?.id === "b"));
      ac.abort();
      await done;
      expect(seen.slice(0, 3)).toEqual([undefined, { id: "a", term: la.term, value: 1 }, { id: "a", term: la.term, value: 2 }]);
      expect(seen[seen.length - 1]).toEqual({ id: "b", term: lb.term, value: null });
      const terms = seen.filter((s) => s !== undefined).map((s) => s!.term);
      for (let i = 1; i < terms.length; i++) expect(terms[i]!).toBeGreaterThanOrEqual(terms[i - 1]!);
      await lb.resign();
    });

    it("a closed leader's client hands leadership to the next candidate", async () => {
      const a = await open();
      const b = await open();
      const la = await a.election("fail", { id: "a" }).campaign();
      const pb = b.election("fail", { id: "b" }).campaign({ timeoutMs: 5000 });
      await sleep(30);
      await a.close();
      expect(la.signal.aborted).toBe(true);
      const lb = await pb;
      expect(lb.term).toBeGreaterThan(la.term);
      await rejectsLockLost(la.proclaim("late"));
    });

    it("whenElected runs while leader and stop() resigns", async () => {
      const a = await open();
      const b = await open();
      const runs: string[] = [];
      let aSignal: AbortSignal | undefined;
      const stopA = a.election("we", { id: "a" }).whenElected(async (signal) => {
        runs.push("a");
        aSignal = signal;
      });
      await until(() => runs.length === 1);
      const stopB = b.election("we", { id: "b" }).whenElected(() => {
        runs.push("b");
      });
      await sleep(50);
      expect(runs).toEqual(["a"]);
      await stopA();
      expect(aSignal?.aborted).toBe(true);
      await until(() => runs.length === 2);
      expect(runs).toEqual(["a", "b"]);
      await stopB();
      expect(await a.election("we").leader()).toBeUndefined();
    });

    it("a leadership fences writes like a lock", async () => {
      const a = await open();
      const l = await a.election("fenced").campaign();
      expect((await a.value("config").set("v1", { fence: l })).ok).toBe(true);
      await l.resign();
      await rejectsLockLost(a.value("config").set("v2", { fence: l }));
      expect((await a.value("config").get())?.value).toBe("v1");
    });

    it("rejects bad names and ids synchronously", async () => {
      const a = await open();
      for (const f of [() => a.election(""), () => a.election("x", { id: "" }), () => a.election("x", { ttlMs: 5 })]) {
        expect(() => f()).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      }
    });
  });
}

async function rejectsLockLost(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isConcordError(e, "LOCK_LOST"), String(e)).toBe(true);
    return;
  }
  throw new Error("expected LOCK_LOST");
}
