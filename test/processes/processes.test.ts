import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connect, type Concord } from "../../src/index.js";
import { engine, engineNames } from "../helpers/engines.js";
import { monotonicMs, spawnWorker } from "../helpers/procs.js";
import { sleep, until } from "../helpers/wait.js";
import { checkPerKey, counterModel, registerModel, type Operation } from "../jepsen/linearizability.js";

const tempFile = (what: string): string => join(mkdtempSync(join(tmpdir(), "concord-proc-")), what);

/** Several OS processes on one engine: the safety claims, with real faults. Memory is one process only. */
for (const name of engineNames().filter((n) => n !== "memory")) describe(`${name} across processes`, () => {
  const withEngine = async (fn: (url: string, client: () => Promise<Concord>) => Promise<void>): Promise<void> => {
    const eng = engine(name);
    const clients: Concord[] = [];
    try {
      await fn(eng.url, async () => {
        const c = await connect(eng.url, { ttlMs: 1000 });
        clients.push(c);
        return c;
      });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      eng.cleanup();
    }
  };

  it("mutual exclusion with strictly increasing tokens under contention from 4 processes", async () => {
    await withEngine(async (url) => {
      const file = tempFile("trace");
      const procs = Array.from({ length: 4 }, () => spawnWorker({ mode: "lock-loop", url, name: "mx", iterations: 15, file }));
      for (const p of procs) await p.next("done", 60_000);
      const lines = readFileSync(file, "utf8").trim().split("\n");
      expect(lines.length).toBe(4 * 15 * 2);
      let last = 0;
      for (let i = 0; i < lines.length; i += 2) {
        const [kind, token, pid] = lines[i]!.split(" ");
        const [kind2, token2, pid2, state] = lines[i + 1]!.split(" ");
        expect([kind, kind2]).toEqual(["enter", "exit"]); // no two holders inside at once
        expect([token2, pid2]).toEqual([token, pid]);
        expect(state).toBe("ok");
        expect(Number(token)).toBeGreaterThan(last);
        last = Number(token);
      }
    });
  });

  it("a holder killed with SIGKILL loses the lock to a waiter within the TTL plus a small margin", async () => {
    await withEngine(async (url, client) => {
      const holder = spawnWorker({ mode: "hold", url, name: "k", ttlMs: 1000 });
      const held = await holder.next("held");
      const me = await client();
      const waiting = me.lock("k").acquire({ timeoutMs: 10_000 });
      await sleep(100);
      const killedAt = monotonicMs();
      holder.child.kill("SIGKILL");
      const mine = await waiting;
      const tookMs = monotonicMs() - killedAt;
      expect(mine.token).toBeGreaterThan(held["token"] as number);
      expect(tookMs).toBeLessThan((held["ttlMs"] as number) + 600); // the granted TTL plus a margin for the sweep and the wake-up
      await mine.release();
    });
  });

  it("a holder stopped with SIGSTOP past its TTL finds its signal aborted on resume and its fenced write refused", async () => {
    await withEngine(async (url, client) => {
      const holder = spawnWorker({ mode: "hold", url, name: "s", ttlMs: 1000 });
      const held = await holder.next("held");
      holder.child.kill("SIGSTOP");
      const me = await client();
      const mine = await me.lock("s").acquire({ timeoutMs: 10_000 });
      expect(mine.token).toBeGreaterThan(held["token"] as number);
      await me.value("s-data").set({ by: "new holder" }, { fence: mine });
      holder.child.kill("SIGCONT");
      holder.send("write");
      const r = await holder.next("refused");
      expect(r["code"]).toBe("LOCK_LOST");
      expect(holder.events.some((e) => e["event"] === "lost")).toBe(true);
      expect(holder.events.some((e) => e["event"] === "wrote")).toBe(false);
      expect((await me.value("s-data").get())?.value).toEqual({ by: "new holder" });
      await mine.release();
      await holder.exited;
    });
  });

  it("election: one leader at a time, terms increasing across SIGKILL failovers, observe in order", async () => {
    await withEngine(async (url, client) => {
      const me = await client();
      const observed: Array<{ id: string; term: number } | undefined> = [];
      const ac = new AbortController();
      const watching = (async () => {
        for await (const l of me.election("lead").observe({ signal: ac.signal })) observed.push(l && { id: l.id, term: l.term });
      })();
      const procs = ["a", "b", "c"].map((id) => spawnWorker({ mode: "elect", url, name: "lead", id, ttlMs: 1000 }));
      const terms: number[] = [];
      const alive = new Set(procs);
      for (let round = 0; round < 3; round++) {
        const leader = await Promise.any([...alive].map((p) => p.next("leader", 10_000).then((e) => ({ p, e }))));
        terms.push(leader.e["term"] as number);
        // exactly one live process believes it leads
        const believers = [...alive].filter((p) => p.events.some((e) => e["event"] === "leader") && !p.events.some((e) => e["event"] === "lost"));
        expect(believers).toEqual([leader.p]);
        alive.delete(leader.p);
        leader.p.child.kill("SIGKILL");
        await leader.p.exited;
      }
      for (let i = 1; i < terms.length; i++) expect(terms[i]!).toBeGreaterThan(terms[i - 1]!);
      await until(() => observed.length > 0 && observed[observed.length - 1] === undefined, 5000, "the last leader to expire");
      ac.abort();
      await watching;
      const seenTerms = observed.filter((o) => o !== undefined).map((o) => o!.term);
      for (let i = 1; i < seenTerms.length; i++) expect(seenTerms[i]!).toBeGreaterThan(seenTerms[i - 1]!);
      expect(seenTerms).toEqual(terms);
    });
  });

  it("concurrent value, counter and map operations from 4 processes are linearizable", async () => {
    await withEngine(async (url) => {
      const procs = Array.from({ length: 4 }, (_, i) => spawnWorker({ mode: "ops", url, name: "lin", iterations: 150, seed: 1000 + i, keys: 2 }));
      const histories = await Promise.all(procs.map((p) => p.next("history", 60_000)));
      const all = histories.flatMap((h, client) => (h["ops"] as Array<Operation<never, never> & { kind: string }>).map((o) => ({ ...o, client })));
      expect(procs.flatMap((p) => p.events.filter((e) => e["event"] === "error"))).toEqual([]);
      const reg = checkPerKey(registerModel, all.filter((o) => o.kind === "register") as never);
      const cnt = checkPerKey(counterModel, all.filter((o) => o.kind === "counter") as never);
      expect(reg.ok, `register history not linearizable at key ${reg.failedKey}`).toBe(true);
      expect(cnt.ok, `counter history not linearizable at key ${cnt.failedKey}`).toBe(true);
      expect(reg.operations + cnt.operations).toBe(600);
    });
  });

  it("a watcher in another process sees each change", async () => {
    await withEngine(async (url, client) => {
      const watcher = spawnWorker({ mode: "watch", url, name: "w" });
      await watcher.next("ready");
      await sleep(50);
      const me = await client();
      for (const v of ["a", "b", "stop"]) await me.value("w").set(v);
      await watcher.exited;
      expect(watcher.events.filter((e) => e["event"] === "change").map((e) => e["value"])).toEqual(["a", "b", "stop"]);
    });
  });

  it("a process killed mid-write loses nothing it had acknowledged", async () => {
    await withEngine(async (url, client) => {
      for (let round = 0; round < 3; round++) {
        const w = spawnWorker({ mode: "write-loop", url, name: "acked" });
        await w.next("acked");
        await sleep(50 + round * 70);
        w.child.kill("SIGKILL");
        await w.exited;
        const acked = Math.max(...w.events.filter((e) => e["event"] === "acked").map((e) => e["value"] as number));
        const me = await client();
        expect(await me.counter("acked").get()).toBeGreaterThanOrEqual(acked);
      }
    });
  });

  it("tasks: none lost and each id enqueued once when a worker process is killed mid-run", async () => {
    await withEngine(async (url, client) => {
      const file = tempFile("tasks");
      const me = await client();
      const q = me.tasks("jobs");
      for (let n = 0; n < 60; n++) await q.submit("job", { n }, { id: `job-${n}`, attempts: 5 });
      for (let n = 0; n < 10; n++) await q.submit("job", { n }, { id: `job-${n}`, attempts: 5 }); // duplicates
      const victim = spawnWorker({ mode: "task-worker", url, name: "jobs", file });
      const survivor = spawnWorker({ mode: "task-worker", url, name: "jobs", file });
      await Promise.all([victim.next("working"), survivor.next("working")]);
      await until(() => existsSync(file) && readFileSync(file, "utf8").includes("start"), 10_000);
      await sleep(150);
      victim.child.kill("SIGKILL");
      for (let n = 0; n < 60; n++) expect((await q.result(`job-${n}`, { timeoutMs: 20_000 })).state).toBe("done");
      survivor.send("stop");
      await survivor.exited;
      const lines = readFileSync(file, "utf8").trim().split("\n");
      const done = new Set(lines.filter((l) => l.startsWith("done")).map((l) => l.split(" ")[1]));
      expect(done.size).toBe(60);
      expect(await q.stats()).toMatchObject({ done: 60, waiting: 0, active: 0, failed: 0 });
    });
  });
});
