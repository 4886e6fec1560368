/**
 * The randomized workload of one client against one primitive. It runs in a client process of its
 * own (client.ts) or, for the memory engine, as one of several clients inside the harness' process.
 * Every operation is printed as an invocation line before it starts and a completion line after.
 */
import { type Concord, isConcordError } from "../../src/index.js";
import { hrMs, type Line, type Outcome, type Primitive, rng } from "./history.js";

export interface WorkloadConfig {
  primitive: Primitive;
  /** Name of the primitive under test (keys derive from it). */
  name: string;
  /** This client's number in the history (a restarted client gets a new one). */
  client: number;
  seed: number;
  /** Operations to run before reporting "done". */
  ops: number;
  /** The run's origin on CLOCK_MONOTONIC (ms); times are printed relative to it. */
  origin: number;
  /** Keys for value, counter and map. */
  keys: number;
  /** Lease TTL of locks, leadership and task claims. */
  ttlMs: number;
  /** Bound of one operation; past it the outcome is unknown (info). */
  opTimeoutMs: number;
  /** Up to this many ms of random pause before each operation. */
  paceMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `signal` has aborted (at once if it already has). */
export const aborted = (signal: AbortSignal): Promise<void> =>
  signal.aborted ? Promise.resolve() : new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));

// Errors that prove an operation did not happen. Anything else (UNAVAILABLE, a timeout while the
// request was in flight, a cut connection) leaves a write's outcome unknown.
const DEFINITE = new Set(["LOCK_LOST", "NOT_HELD", "INVALID_ARGUMENT", "TOO_LARGE", "UNSUPPORTED"]);

/**
 * Runs operations until `quiet` aborts (or `cfg.ops` ran), then, for election and tasks, keeps
 * observing / working until `stop` aborts. `stop` also cuts operations in flight.
 */
export async function runWorkload(c: Concord, cfg: WorkloadConfig, emit: (l: Line) => void, quiet: AbortSignal, stop: AbortSignal): Promise<void> {
  const rand = rng(cfg.seed);
  const now = (): number => hrMs() - cfg.origin;
  const pick = (n: number): number => Math.floor(rand() * n);
  let seq = 0;
  const note = (kind: string, fields: Record<string, unknown> = {}): void => emit({ t: "note", client: cfg.client, kind, at: now(), ...fields });

  /** Runs one recorded operation. `readOnly` ops that fail did not happen; `waits` ops (acquire, campaign) fail cleanly on a timeout. */
  // An indeterminate write stays open to the end of the history, and each one doubles the checker's
  // search: after one, wait for the engine to answer again rather than pile up more of them.
  const recover = async (): Promise<void> => {
    while (!stop.aborted) {
      try {
        await c.driver.get(`probe`, { signal: AbortSignal.any([stop, AbortSignal.timeout(1000)]) });
        return;
      } catch {
        await sleep(100);
      }
    }
  };
  // Paces operations so a bounded run spreads them over its faults.
  const pace = (): Promise<void> => sleep(pick(cfg.paceMs + 1));
  const op = async <T>(
    f: string,
    input: Record<string, unknown>,
    run: (signal: AbortSignal) => Promise<{ output: Record<string, unknown>; outcome?: Outcome; value?: T }>,
    kind: "read" | "write" | "wait" = "write",
  ): Promise<T | undefined> => {
    const s = seq++;
    const signal = AbortSignal.any([stop, AbortSignal.timeout(cfg.opTimeoutMs)]);
    await pace();
    emit({ t: "invoke", client: cfg.client, seq: s, f, input, at: now() });
    try {
      const r = await run(signal);
      emit({ t: "complete", client: cfg.client, seq: s, outcome: r.outcome ?? "ok", output: r.output, at: now() });
      return r.value;
    } catch (e) {
      const code = isConcordError(e) ? e.code : "ERROR";
      const definite = kind === "read" || DEFINITE.has(code) || (kind === "wait" && (code === "TIMEOUT" || code === "ABORTED"));
      emit({ t: "complete", client: cfg.client, seq: s, outcome: definite ? "fail" : "info", error: `${code}: ${(e as Error).message}`, at: now() });
      if (!definite) await recover();
      return undefined;
    }
  };

  /** Holds a lock or leadership for a while, noting each moment it still believes it holds. */
  const hold = async (h: { signal: AbortSignal; isHeld(): boolean }, id: Record<string, unknown>): Promise<void> => {
    h.signal.addEventListener("abort", () => note("lost", id), { once: true });
    const steps = 1 + pick(4);
    for (let i = 0; i < steps; i++) {
      const at = now();
      if (h.signal.aborted) break;
      emit({ t: "note", client: cfg.client, kind: "belief", at, ...id });
      await sleep(2 + pick(10));
    }
  };

  switch (cfg.primitive) {
    case "lock": {
      const lock = c.lock(cfg.name, { ttlMs: cfg.ttlMs });
      const fenced = c.value<{ token: number; client: number }>(`${cfg.name}-fenced`);
      for (let i = 0; i < cfg.ops && !quiet.aborted; i++) {
        const held = await op("acquire", {}, async (signal) => {
          const h = await lock.acquire({ signal, timeoutMs: cfg.opTimeoutMs });
          return { output: { token: h.token }, value: h };
        }, "wait");
        if (!held) continue;
        const token = held.token;
        await hold(held, { token });
        await op("fenced-write", { token }, async (signal) => {
          const r = await fenced.set({ token, client: cfg.client }, { fence: held, signal });
          return { output: { version: r.ok ? r.version : -1 } };
        });
        await op("release", { token }, async () => {
          await held.release();
          return { output: {} };
        });
      }
      break;
    }
    case "election": {
      const el = c.election(cfg.name, { id: `c${cfg.client}`, ttlMs: cfg.ttlMs });
      const observing = (async () => {
        try {
          for await (const l of el.observe({ signal: stop })) note("observe", { term: l?.term ?? null, id: l?.id ?? null });
        } catch (e) {
          note("observe-error", { error: String(e) });
        }
      })();
      for (let i = 0; i < cfg.ops && !quiet.aborted; i++) {
        const lead = await op("campaign", {}, async (signal) => {
          const l = await el.campaign({ value: cfg.client, signal, timeoutMs: cfg.opTimeoutMs });
          return { output: { term: l.term }, value: l };
        }, "wait");
        if (!lead) continue;
        await hold(lead, { term: lead.term });
        await op("resign", { term: lead.term }, async () => {
          await lead.resign();
          return { output: {} };
        });
        await sleep(pick(10));
      }
      note("done");
      await aborted(stop);
      await observing;
      return;
    }
    case "value":
    case "map": {
      const lastVersion = new Map<string, number>();
      const map = c.map<number>(cfg.name);
      const get = async (key: string, signal: AbortSignal): Promise<{ value: number; version: number } | undefined> =>
        cfg.primitive === "map" ? map.get(key, { signal }) : c.value<number>(`${cfg.name}-${key}`).get({ signal });
      const put = async (key: string, v: number, signal: AbortSignal, ifVersion?: number) => {
        const opts = ifVersion === undefined ? { signal } : { signal, ifVersion };
        return cfg.primitive === "map" ? map.put(key, v, opts) : c.value<number>(`${cfg.name}-${key}`).set(v, opts);
      };
      for (let i = 0; i < cfg.ops && !quiet.aborted; i++) {
        const key = `k${pick(cfg.keys)}`;
        const r = rand();
        const value = cfg.client * 100_000 + i; // unique, so a read names the write it saw
        if (r < 0.4) {
          await op("read", { key, f: "read" }, async (signal) => {
            const v = await get(key, signal);
            if (v) lastVersion.set(key, v.version);
            return { output: { f: "read", value: v?.value ?? null, version: v?.version ?? 0 } };
          }, "read");
        } else if (r < 0.7) {
          await op("write", { key, f: "write", value }, async (signal) => {
            const w = await put(key, value, signal);
            if (!w.ok) throw new Error("an unconditional write was refused");
            lastVersion.set(key, w.version);
            return { output: { f: "write", version: w.version } };
          });
        } else {
          const ifVersion = lastVersion.get(key) ?? 0;
          await op("cas", { key, f: "cas", ifVersion, value }, async (signal) => {
            const w = await put(key, value, signal, ifVersion);
            if (w.ok) lastVersion.set(key, w.version);
            return { output: w.ok ? { f: "cas", ok: true, version: w.version } : { f: "cas", ok: false } };
          });
        }
      }
      break;
    }
    case "counter": {
      const lastValue = new Map<string, number>();
      for (let i = 0; i < cfg.ops && !quiet.aborted; i++) {
        const key = `k${pick(cfg.keys)}`;
        const n = c.counter(`${cfg.name}-${key}`);
        const r = rand();
        if (r < 0.35) {
          await op("read", { key, f: "read" }, async (signal) => {
            const value = await n.get({ signal });
            lastValue.set(key, value);
            return { output: { value } };
          }, "read");
        } else if (r < 0.75) {
          const by = 1 + pick(3);
          await op("incr", { key, f: "incr", by }, async (signal) => {
            const value = await n.increment(by, { signal });
            lastValue.set(key, value);
            return { output: { value } };
          });
        } else {
          const expect = lastValue.get(key) ?? 0;
          const next = expect + 10 + pick(10);
          await op("cas", { key, f: "cas", expect, next }, async (signal) => {
            const ok = await n.compareAndSet(expect, next, { signal });
            if (ok) lastValue.set(key, next);
            return { output: { ok } };
          });
        }
      }
      break;
    }
    case "tasks": {
      const q = c.tasks(cfg.name);
      const worker = q.work(
        {
          job: async (_p: unknown, ctx) => {
            note("run", { id: ctx.id, attempt: ctx.attempt });
            await sleep(3 + pick(20));
            note("ran", { id: ctx.id, attempt: ctx.attempt });
            return { by: cfg.client };
          },
        },
        { concurrency: 2, claimTtlMs: cfg.ttlMs, closeTimeoutMs: 1000 },
      );
      // Ids from a pool shared by every client, so some are submitted more than once.
      const pool = Math.max(4, Math.min(300, Math.round(cfg.ops * 1.5)));
      for (let i = 0; i < cfg.ops && !quiet.aborted; i++) {
        const id = `j${pick(pool)}`;
        await op("submit", { id }, async (signal) => {
          const rec = await q.submit("job", { id }, { id, attempts: 10, backoff: { delayMs: 20, maxMs: 200 }, signal });
          return { output: { createdAt: rec.createdAt, attempts: rec.attempts } };
        });
        await sleep(pick(15));
      }
      note("done");
      await aborted(stop);
      await worker.close();
      return;
    }
    default:
      cfg.primitive satisfies never;
  }
  note("done");
}
