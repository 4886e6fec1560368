/**
 * A client in its own OS process, driven by the multi-process tests. It prints one JSON line per
 * event on stdout; the parent reads them. Usage: node --import tsx worker.ts '<json config>'
 */
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { connect, isConcordError } from "../../src/index.js";

interface Config {
  mode: "lock-loop" | "hold" | "elect" | "ops" | "watch" | "write-loop" | "task-worker";
  url: string;
  name: string;
  ttlMs?: number;
  iterations?: number;
  file?: string;
  id?: string;
  seed?: number;
  keys?: number;
}

const cfg = JSON.parse(process.argv[2]!) as Config;
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const now = (): number => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC: one clock for every process on the host
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A tiny seeded PRNG so a failing workload can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

// The parent going away (a failed test) ends us too: no orphaned workers.
process.stdin.on("close", () => process.exit(0));
const c = await connect(cfg.url, { ttlMs: cfg.ttlMs ?? 1000, id: cfg.id ?? `p${process.pid}` });
const stdin = createInterface({ input: process.stdin });
const lines: string[] = [];
let onLine: (() => void) | undefined;
stdin.on("line", (l) => {
  lines.push(l);
  onLine?.();
});
const nextLine = (): Promise<string> =>
  lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => (onLine = () => ((onLine = undefined), r(lines.shift()!))));

switch (cfg.mode) {
  case "lock-loop": {
    for (let i = 0; i < (cfg.iterations ?? 10); i++) {
      await c.lock(cfg.name).withLock(async (signal, token) => {
        appendFileSync(cfg.file!, `enter ${token} ${process.pid}\n`);
        await sleep(2);
        appendFileSync(cfg.file!, `exit ${token} ${process.pid} ${signal.aborted ? "aborted" : "ok"}\n`);
      });
    }
    say({ event: "done" });
    break;
  }
  case "hold": {
    const held = await c.lock(cfg.name).acquire();
    const ttlMs = (await c.session()).ttlMs;
    held.signal.addEventListener("abort", () => say({ event: "lost", at: now() }));
    if (held.signal.aborted) say({ event: "lost", at: now() });
    say({ event: "held", token: held.token, at: now(), ttlMs });
    // Wait for the parent: after a SIGSTOP/SIGCONT it asks for a fenced write.
    const cmd = await nextLine();
    if (cmd === "write") {
      const abortedBefore = held.signal.aborted;
      try {
        await c.value(`${cfg.name}-data`).set({ by: process.pid }, { fence: held });
        say({ event: "wrote", abortedBefore });
      } catch (e) {
        say({ event: "refused", abortedBefore, code: isConcordError(e) ? e.code : String(e) });
      }
    }
    break;
  }
  case "elect": {
    const lead = await c.election(cfg.name, { id: cfg.id ?? String(process.pid) }).campaign({ value: process.pid });
    say({ event: "leader", term: lead.term, at: now() });
    lead.signal.addEventListener("abort", () => say({ event: "lost", term: lead.term, at: now() }));
    await nextLine();
    break;
  }
  case "task-worker": {
    // Runs tasks slowly, noting each start and finish, until the parent kills it or says stop.
    const w = c.tasks(cfg.name).work(
      {
        job: async (p: { n: number }, ctx) => {
          appendFileSync(cfg.file!, `start ${p.n} ${process.pid} ${ctx.attempt}\n`);
          await sleep(20);
          appendFileSync(cfg.file!, `done ${p.n} ${process.pid}\n`);
        },
      },
      { concurrency: 4, claimTtlMs: 1000 },
    );
    say({ event: "working" });
    await nextLine();
    await w.close();
    break;
  }
  case "write-loop": {
    // Acknowledged increments, printed one by one, until the parent kills us mid-write.
    const n = c.counter(cfg.name);
    for (;;) say({ event: "acked", value: await n.increment() });
  }
  case "watch": {
    say({ event: "ready" });
    for await (const ev of c.value(cfg.name).watch()) {
      say({ event: "change", value: ev.value, at: now() });
      if (ev.value === "stop") break;
    }
    break;
  }
  case "ops": {
    // Random register, counter and map operations, each recorded with call and return times.
    const rand = rng(cfg.seed ?? 1);
    const ops: object[] = [];
    const keys = cfg.keys ?? 2;
    for (let i = 0; i < (cfg.iterations ?? 100); i++) {
      const r = rand();
      const key = `k${Math.floor(rand() * keys)}`;
      const call = now();
      try {
        if (r < 0.25) {
          const v = await c.value(`${cfg.name}-${key}`).get();
          ops.push({ kind: "register", call, ret: now(), input: { key, f: "read" }, output: { f: "read", value: (v?.value as number) ?? null, version: v?.version ?? 0 } });
        } else if (r < 0.4) {
          const value = Math.floor(rand() * 1000);
          const w = await c.value(`${cfg.name}-${key}`).set(value);
          ops.push({ kind: "register", call, ret: now(), input: { key, f: "write", value }, output: { f: "write", version: w.ok ? w.version : -1 } });
        } else if (r < 0.55) {
          const cur = await c.value(`${cfg.name}-${key}`).get();
          const ifVersion = cur?.version ?? 0;
          const value = Math.floor(rand() * 1000);
          const call2 = now();
          const w = await c.value(`${cfg.name}-${key}`).set(value, { ifVersion });
          ops.push({ kind: "register", call: call2, ret: now(), input: { key, f: "cas", ifVersion, value }, output: w.ok ? { f: "cas", ok: true, version: w.version } : { f: "cas", ok: false } });
        } else if (r < 0.75) {
          const value = await c.counter(`${cfg.name}-${key}`).increment();
          ops.push({ kind: "counter", call, ret: now(), input: { key, f: "incr", by: 1 }, output: { value } });
        } else if (r < 0.85) {
          const value = await c.counter(`${cfg.name}-${key}`).get();
          ops.push({ kind: "counter", call, ret: now(), input: { key, f: "read" }, output: { value } });
        } else {
          const v = await c.map<number>(cfg.name).update(key, (x) => (x ?? 0) + 1);
          ops.push({ kind: "counter", call, ret: now(), input: { key: `map:${key}`, f: "incr", by: 1 }, output: { value: v?.value } });
        }
      } catch (e) {
        say({ event: "error", message: String(e) });
      }
    }
    say({ event: "history", ops });
    break;
  }
}
await c.close();
stdin.close();
