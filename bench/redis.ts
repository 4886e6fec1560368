import { Redis } from "ioredis";
import Redlock from "redlock";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

const URL_ = "redis://127.0.0.1:6379";

interface Sample {
  n: number;
  lat: number[];
  secs: number;
}

async function timedLoop(durationMs: number, op: () => Promise<void>, into: Sample = { n: 0, lat: [], secs: 0 }): Promise<Sample> {
  const start = monotonicMs();
  while (monotonicMs() - start < durationMs) {
    const t = monotonicMs();
    await op();
    into.lat.push(monotonicMs() - t);
  }
  into.n = into.lat.length;
  into.secs += (monotonicMs() - start) / 1000;
  return into;
}

/** Slices of each side in turn (which goes first alternates), so both see the same load on a shared machine. */
const SLICES = 10;
async function sideBySide(durationMs: number, ours: () => Promise<void>, theirs: () => Promise<void>): Promise<[Sample, Sample]> {
  const a: Sample = { n: 0, lat: [], secs: 0 };
  const b: Sample = { n: 0, lat: [], secs: 0 };
  for (let i = 0; i < SLICES; i++) {
    const pair: Array<[() => Promise<void>, Sample]> = [[ours, a], [theirs, b]];
    if (i % 2 === 1) pair.reverse();
    for (const [op, into] of pair) await timedLoop(durationMs / SLICES, op, into);
  }
  return [a, b];
}

/** The same for several clients at once: each side's clients run together, one side at a time. */
async function sideBySideMany(durationMs: number, ours: Array<() => Promise<void>>, theirs: Array<() => Promise<void>>): Promise<[Sample[], Sample[]]> {
  const a = ours.map((): Sample => ({ n: 0, lat: [], secs: 0 }));
  const b = theirs.map((): Sample => ({ n: 0, lat: [], secs: 0 }));
  for (let i = 0; i < SLICES; i++) {
    const pair: Array<[Array<() => Promise<void>>, Sample[]]> = [[ours, a], [theirs, b]];
    if (i % 2 === 1) pair.reverse();
    for (const [ops, into] of pair) await Promise.all(ops.map((op, j) => timedLoop(durationMs / SLICES, op, into[j])));
  }
  return [a, b];
}

/** Redis: lock acquire+release (1 client, and 8 contending), and counter increments, beside redlock and raw INCR. */
export async function benchRedis(durationMs: number): Promise<Row[]> {
  const keyspace = `bench-${Date.now()}`;
  const rows: Row[] = [];

  // uncontended lock
  const c = await connect(`${URL_}?keyspace=${keyspace}`, { ttlMs: 10_000 });
  const lock = c.lock("bench");
  await (await lock.acquire()).release();
  const redis = new Redis(URL_);
  const redlock = new Redlock([redis], { retryCount: -1, retryDelay: 5, retryJitter: 5 });
  const [ours, theirs] = await sideBySide(
    durationMs,
    async () => void (await (await lock.acquire()).release()),
    async () => void (await (await redlock.acquire([`${keyspace}:redlock`], 10_000)).release()),
  );
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
  const redlocks = Array.from({ length: 8 }, () => new Redlock([new Redis(URL_)], { retryCount: -1, retryDelay: 5, retryJitter: 5 }));
  const [oursC, theirsC] = await sideBySideMany(
    durationMs,
    clients.map((k) => async () => void (await (await k.lock("hot").acquire()).release())),
    redlocks.map((r) => async () => void (await (await r.acquire([`${keyspace}:hot`], 10_000)).release())),
  );
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
  const [incOurs, incRaw] = await sideBySide(
    durationMs,
    async () => void (await counter.increment()),
    async () => void (await redis.incr(`${keyspace}:raw`)),
  );
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

/** `npx tsx bench/redis.ts [ms]`: this benchmark alone. */
if (process.argv[1] !== undefined && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  for (const r of await benchRedis(Number(process.argv[2] ?? 3000))) {
    console.log(`${r.benchmark}: ${fmt(r.concord)} vs ${fmt(r.peer ?? Number.NaN)} ${r.unit} (${r.peerName}), ${fmt(r.ratio ?? Number.NaN, 2)}x; ${r.note ?? ""}`);
  }
  process.exit(0);
}
