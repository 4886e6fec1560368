import { expect } from "vitest";
import { type Concord, isConcordError } from "../../src/index.js";
import { Collector, eventually } from "./kit.js";

/**
 * Writers and a watcher over a counter and a map while a fault happens, then the checks: every
 * acknowledged write is there, an unacknowledged one counted at most once, the watch has every
 * change with no gap, and locks are exclusive with increasing tokens after.
 */
export interface WorkloadReport {
  acked: number;
  failed: number;
  total: number;
  watched: number;
  lockRounds: number;
}

const RETRYABLE = new Set(["UNAVAILABLE", "TIMEOUT"]);

function expectRetryable(e: unknown): void {
  expect(isConcordError(e) && RETRYABLE.has(e.code), `a failure under a fault must be UNAVAILABLE or TIMEOUT: ${String(e)}`).toBe(true);
}

/**
 * Runs `writers` (one client each) incrementing counter `n` and putting map keys `w<i>:<seq>`, and
 * `watcher` following the counter, for `beforeMs`, then `fault()` (awaited while writes go on),
 * then `afterMs` more; then checks everything. Each call is bounded by `callTimeoutMs`.
 */
export async function faultUnderLoad(opts: {
  writers: Concord[];
  watcher: Concord;
  checker: Concord;
  /** The fault; `acked()` counts acknowledged writes so far, to check progress while it lasts. */
  fault: (acked: () => number) => Promise<void>;
  beforeMs?: number;
  afterMs?: number;
  callTimeoutMs?: number;
  /** Max time for the clients to be back after the fault. */
  recoverMs?: number;
  /** Clients that contend for one lock during the whole run (exclusivity checked throughout). */
  lockers?: Concord[];
}): Promise<WorkloadReport> {
  const { writers, watcher, checker } = opts;
  const callTimeoutMs = opts.callTimeoutMs ?? 2_000;
  const start = await watcher.counter("n").get();
  expect(start).toBe(0);
  // From version 1 (the keyspace is fresh): a watch "from now" may subscribe only after the first
  // increment below has landed and then never see it.
  const watched = new Collector((signal) => watcher.counter("n").watch({ signal, fromVersion: 1 }));
  // The watch is live once it has seen a first change; make one and count it.
  await eventually(() => checker.counter("n").increment(1), 15_000);
  const t0 = Date.now();
  while (watched.items.length === 0 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 10));
  expect(watched.items.length, "the watch started").toBe(1);

  let acked = 1;
  let failed = 0;
  const ackedKeys: string[] = [];
  let stop = false;
  const loops = writers.map(async (c, w) => {
    let seq = 0;
    while (!stop) {
      const signal = AbortSignal.timeout(callTimeoutMs);
      try {
        await c.counter("n").increment(1, { signal });
        acked++;
      } catch (e) {
        expectRetryable(e);
        failed++;
        await new Promise((r) => setTimeout(r, 50));
      }
      const key = `w${w}:${seq++}`;
      try {
        await c.map<number>("m").put(key, seq, { signal: AbortSignal.timeout(callTimeoutMs) });
        ackedKeys.push(key);
      } catch (e) {
        expectRetryable(e);
      }
    }
  });
  const contention = contend(opts.lockers ?? [], () => stop);
  await new Promise((r) => setTimeout(r, opts.beforeMs ?? 1_000));
  const ackedBefore = acked;
  await opts.fault(() => acked);
  // Writes go on after the fault until each writer has had some acknowledged again.
  const resumeFrom = acked;
  const recoverBy = Date.now() + (opts.recoverMs ?? 20_000);
  while (acked < resumeFrom + 3 * writers.length && Date.now() < recoverBy) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, opts.afterMs ?? 500));
  stop = true;
  await Promise.all(loops);
  const during = await contention;
  if (opts.lockers?.length) expect(during.acquired, "locks were acquired during the run").toBeGreaterThan(opts.lockers.length);
  expect(ackedBefore, "writes were acknowledged before the fault").toBeGreaterThan(writers.length);
  expect(acked, "writes were acknowledged again after the fault, with no reconnect by hand").toBeGreaterThanOrEqual(resumeFrom + 3 * writers.length);

  // A write whose caller saw it fail may still land a moment later (its outcome was unknown).
  await new Promise((r) => setTimeout(r, 500));
  // Nothing acknowledged lost, nothing applied twice.
  const { value: total } = await eventually(() => checker.counter("n").get(), 10_000);
  expect(total).toBeGreaterThanOrEqual(acked);
  expect(total).toBeLessThanOrEqual(acked + failed);
  const { value: keys } = await eventually(() => checker.map<number>("m").keys(), 10_000);
  const present = new Set(keys);
  const lost = ackedKeys.filter((k) => !present.has(k));
  expect(lost, "acknowledged map writes missing after the fault").toEqual([]);

  // The watch saw every value from 1 to the total, in order, with no gap and no repeat.
  const deadline = Date.now() + 15_000;
  while (watched.items.length < total && !watched.error && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(watched.error).toBeUndefined();
  expect(watched.items.slice(0, total).map((e) => e.value)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  await watched.stop();

  // Locks are exclusive after the fault, with increasing tokens.
  const lockRounds = await exclusiveLocks([...writers, checker], 4);
  return { acked, failed, total, watched: total, lockRounds: lockRounds + during.acquired };
}

/** Every client takes lock `after` `rounds` times concurrently: never two inside, tokens strictly increasing. */
export async function exclusiveLocks(clients: Concord[], rounds: number): Promise<number> {
  let inside = 0;
  let maxInside = 0;
  const tokens: number[] = [];
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < rounds; i++) {
        const { value: held } = await eventually(() => c.lock("after").acquire({ timeoutMs: 10_000 }), 20_000);
        inside++;
        maxInside = Math.max(maxInside, inside);
        tokens.push(held.token);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
        await held.release();
      }
    }),
  );
  expect(maxInside).toBe(1);
  expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
  expect(new Set(tokens).size).toBe(tokens.length);
  return tokens.length;
}

/**
 * Each client takes lock `during` over and over until `stopped()`, retrying failures: whenever one
 * acquires, every earlier holder's signal must already be aborted or released (no two live
 * holders), and tokens strictly increase in the order of acquisition.
 */
async function contend(clients: Concord[], stopped: () => boolean): Promise<{ acquired: number }> {
  const live = new Set<AbortSignal>();
  const tokens: number[] = [];
  const overlaps: string[] = [];
  await Promise.all(
    clients.map(async (c) => {
      while (!stopped()) {
        let held;
        try {
          held = await c.lock("during").acquire({ timeoutMs: 2_000 });
        } catch (e) {
          expectRetryable(e);
          continue;
        }
        for (const other of live) if (!other.aborted) overlaps.push(`token ${held.token} acquired while another holder's signal was live`);
        live.add(held.signal);
        tokens.push(held.token);
        await new Promise((r) => setTimeout(r, 20));
        await held.release().catch(() => undefined);
        live.delete(held.signal);
      }
    }),
  );
  expect(overlaps).toEqual([]);
  expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
  return { acquired: tokens.length };
}
