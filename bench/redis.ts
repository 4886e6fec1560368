import { Redis } from "ioredis";
import Redlock from "redlock";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

const URL_ = "redis://127.0.0.1:6379";

async function timedLoop(durationMs: number, op: () => Promise<void>): Promise<{ n: number; lat: number[]; secs: number }> {
  const lat: number[] = [];
  const start = monotonicMs();
  while (monotonicMs() - start < durationMs) {
    const t = monotonicMs();
    await op();
    lat.push(monotonicMs() - t);
  }
  return { n: lat.length, lat, secs: (monotonicMs() - start) / 1000 };
}

/** Redis: lock acquire+release (1 client, and 8 contending), and counter increments, beside redlock and raw INCR. */
export async function benchRedis(durationMs: number): Promise<Row[]> {
  const keyspace = `bench-${Date.now()}`;
  const rows: Row[] = [];

  // uncontended lock
  const c = await connect(`${URL_}?keyspace=${keyspace}`, { ttlMs: 10_000 });
  const lock = c.lock("bench");
  await (await lock.acquire()).release();
  const ours = await timedLoop(durationMs, async () => void (await (await lock.acquire()).release()));
  const redis = new Redis(URL_);
  const redlock = new Redlock([redis], { retryCount: -1, retryDelay: 5, retryJitter: 5 });
  const theirs = await timedLoop(durationMs, async () => void (await (await redlock.acquire([`${keyspace}:redlock`], 10_000)).release()));
  rows.push({
    benchmark: "redis lock acquire+release, 1 client",
    unit: "ops/s",
    concord: ours.n / ours.secs,
    peer: theirs.n / theirs.secs,
    peerName: "redlock",
    ratio: ours.n / ours.secs / (theirs.n / theirs.secs),
    target: ">= 1.0x, p99 no worse",
    met: ours.n / ours.secs >= theirs.n / theirs.secs && percentile(ours.lat, 99) <= percentile(theirs.lat, 99),
    note: `p99 ${fmt(percentile(ours.lat, 99), 2)} ms vs ${fmt(percentile(theirs.lat, 99), 2)} ms`,
  });

  // 8 contending clients
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(`${URL_}?keyspace=${keyspace}`, { ttlMs: 10_000 })));
  const oursC = await Promise.all(clients.map((k) => timedLoop(durationMs, async () => void (await (await k.lock("hot").acquire()).release()))));
  const redlocks = Array.from({ length: 8 }, () => new Redlock([new Redis(URL_)], { retryCount: -1, retryDelay: 5, retryJitter: 5 }));
  const theirsC = await Promise.all(redlocks.map((r) => timedLoop(durationMs, async () => void (await (await r.acquire([`${keyspace}:hot`], 10_000)).release()))));
  const rate = (xs: Array<{ n: number; secs: number }>): number => xs.reduce((a, x) => a + x.n, 0) / Math.max(...xs.map((x) => x.secs));
  const share = (xs: Array<{ n: number }>): string => xs.map((x) => x.n).join("/");
  rows.push({
    benchmark: "redis lock, 8 contending clients, total acquisitions",
    unit: "ops/s",
    concord: rate(oursC),
    peer: rate(theirsC),
    peerName: "redlock",
    ratio: rate(oursC) / rate(theirsC),
    target: ">= 1.0x, fair",
    met: rate(oursC) >= rate(theirsC),
    note: `per-client acquisitions concord ${share(oursC)} (FIFO), redlock ${share(theirsC)}`,
  });
  await Promise.all(clients.map((k) => k.close()));
  for (const r of redlocks) await r.quit();

  // counter
  const counter = c.counter("n");
  const incOurs = await timedLoop(durationMs, async () => void (await counter.increment()));
  const incRaw = await timedLoop(durationMs, async () => void (await redis.incr(`${keyspace}:raw`)));
  rows.push({
    benchmark: "redis counter increment, 1 client, sequential",
    unit: "ops/s",
    concord: incOurs.n / incOurs.secs,
    peer: incRaw.n / incRaw.secs,
    peerName: "raw INCR",
    ratio: incOurs.n / incOurs.secs / (incRaw.n / incRaw.secs),
    target: ">= 0.5x",
    met: incOurs.n / incOurs.secs / (incRaw.n / incRaw.secs) >= 0.5,
  });
  await c.close();
  const keys = await redis.keys(`*${keyspace}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  return rows;
}
