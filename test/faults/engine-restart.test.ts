import { afterEach, describe, expect, it } from "vitest";
import { type Concord, connect, isConcordError } from "../../src/index.js";
import { PrivatePostgres, PrivateRedis } from "../helpers/private-engines.js";
import { Collector, eventually, serverEngines } from "./kit.js";
import { faultUnderLoad } from "./workload.js";

/**
 * An engine restart mid-run, on a PRIVATE instance (the shared servers are never touched): writers
 * and a watcher carry on by themselves; nothing acknowledged is lost; locks stay exclusive after.
 */

const engines = serverEngines();
const TTL = 2_000;

let clients: Concord[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function open(url: string): Promise<Concord> {
  const c = await connect(url, { ttlMs: TTL });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  clients = [];
  for (const f of cleanups.splice(0)) await f().catch(() => undefined);
}, 30_000);

describe.runIf(engines.includes("redis"))("engine restart: redis", () => {
  it("with appendfsync always, a SIGKILL and restart under writes loses nothing acknowledged; clients recover by themselves", async () => {
    const redis = await PrivateRedis.start({ appendfsync: "always" });
    cleanups.push(() => redis.close());
    const url = `redis://${redis.address}?keyspace=restart`;
    const writers = [await open(url), await open(url), await open(url)];
    const report = await faultUnderLoad({
      writers,
      lockers: [await open(url), await open(url)],
      watcher: await open(url),
      checker: await open(url),
      fault: () => redis.restart(true),
    });
    expect(report.lockRounds).toBeGreaterThan(16);
  }, 120_000);

  it("without persistence a restart forgets everything, and a watch says COMPACTED instead of going back in time", async () => {
    const redis = await PrivateRedis.start();
    cleanups.push(() => redis.close());
    const url = `redis://${redis.address}?keyspace=volatile`;
    const a = await open(url);
    for (let i = 0; i < 5; i++) await a.counter("n").increment();
    const watched = new Collector((signal) => a.counter("n").watch({ signal, fromVersion: 1 }));
    await eventually(async () => {
      if (watched.items.length < 5) throw Object.assign(new Error("not yet"), { isConcordError: true, code: "UNAVAILABLE", retryable: true });
    }, 5_000);
    await redis.restart(true);
    await eventually(() => a.counter("n").get(), 10_000);
    // Writes after the restart start from an empty server: revisions go back, which a watch must not hide.
    await eventually(() => a.counter("n").increment(), 10_000);
    const deadline = Date.now() + 15_000;
    while (watched.error === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(isConcordError(watched.error, "COMPACTED"), `the watch ended with ${String(watched.error)}`).toBe(true);
    expect(watched.items.map((e) => e.value)).toEqual([1, 2, 3, 4, 5]);
    expect(await a.counter("n").get()).toBe(1);
  }, 120_000);
});

describe.runIf(engines.includes("postgres"))("engine restart: postgres", () => {
  it("a crash (immediate stop) and restart under writes from three clients loses nothing acknowledged; the watch is gapless; clients recover by themselves", async () => {
    const pg = await PrivatePostgres.start();
    cleanups.push(() => pg.close());
    const url = `${pg.url()}?schema=restart`;
    const writers = [await open(url), await open(url), await open(url)];
    const report = await faultUnderLoad({
      writers,
      lockers: [await open(url), await open(url)],
      watcher: await open(url),
      checker: await open(url),
      fault: () => pg.restart("immediate"),
    });
    expect(report.lockRounds).toBeGreaterThan(16);
  }, 120_000);
});
