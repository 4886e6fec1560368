import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/index.js";
import { PrivatePostgres, PrivateRedis } from "../helpers/private-engines.js";
import { Collector, eventually, serverEngines, useFaultClients } from "./kit.js";
import { faultUnderLoad } from "./workload.js";

/**
 * An engine restart mid-run, on a PRIVATE instance (the shared servers are never touched): writers
 * and a watcher carry on by themselves; nothing acknowledged is lost; locks stay exclusive after.
 */

const engines = serverEngines();
const TTL = 2_000;

const { open, cleanup } = useFaultClients(TTL);

/** Three writers, two lock contenders, a watcher and a checker on `url`, with `fault` mid-run. */
async function restartUnderLoad(url: string, fault: () => Promise<void>): Promise<void> {
  const report = await faultUnderLoad({
    writers: [await open(url), await open(url), await open(url)],
    lockers: [await open(url), await open(url)],
    watcher: await open(url),
    checker: await open(url),
    fault,
  });
  expect(report.lockRounds).toBeGreaterThan(16);
}

if (engines.includes("redis")) describe("engine restart: redis", () => {
  it("with appendfsync always, a SIGKILL and restart under writes loses nothing acknowledged; clients recover by themselves", async () => {
    const redis = await PrivateRedis.start({ appendfsync: "always" });
    cleanup(() => redis.close());
    const url = `redis://${redis.address}?keyspace=restart`;
    await restartUnderLoad(url, () => redis.restart(true));
  }, 120_000);

  it("without persistence a restart forgets everything, and a watch says COMPACTED instead of going back in time", async () => {
    const redis = await PrivateRedis.start();
    cleanup(() => redis.close());
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

if (engines.includes("postgres")) describe("engine restart: postgres", () => {
  it("a crash (immediate stop) and restart under writes from three clients loses nothing acknowledged; the watch is gapless; clients recover by themselves", async () => {
    const pg = await PrivatePostgres.start();
    cleanup(() => pg.close());
    const url = `${pg.url()}?schema=restart`;
    await restartUnderLoad(url, () => pg.restart("immediate"));
  }, 120_000);
});
