import { Etcd3 } from "etcd3";
import pg from "pg";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

async function loop(durationMs: number, op: () => Promise<void>): Promise<{ rate: number; p99: number }> {
  const lat: number[] = [];
  const start = monotonicMs();
  while (monotonicMs() - start < durationMs) {
    const t = monotonicMs();
    await op();
    lat.push(monotonicMs() - t);
  }
  return { rate: lat.length / ((monotonicMs() - start) / 1000), p99: percentile(lat, 99) };
}

function row(benchmark: string, ours: { rate: number; p99: number }, peer: { rate: number; p99: number }, peerName: string, target: number): Row {
  const ratio = ours.rate / peer.rate;
  return {
    benchmark,
    unit: "ops/s",
    concord: ours.rate,
    peer: peer.rate,
    peerName,
    ratio,
    target: `>= ${target}x`,
    met: ratio >= target,
    note: `p99 ${fmt(ours.p99, 2)} ms vs ${fmt(peer.p99, 2)} ms`,
  };
}

/** PostgreSQL beside pg_advisory_lock on one connection, etcd beside the etcd3 package's own Lock (3 members). */
export async function benchServerLocks(durationMs: number): Promise<Row[]> {
  const rows: Row[] = [];
  const ks = `bench-${Date.now()}`;

  const p = await connect(`postgres://postgres@127.0.0.1:5432/test?schema=bench_${Date.now()}`);
  const plock = p.lock("bench");
  await (await plock.acquire()).release();
  const oursPg = await loop(durationMs, async () => void (await (await plock.acquire()).release()));
  await p.close();
  const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
  await client.connect();
  const advisory = await loop(durationMs, async () => {
    await client.query("SELECT pg_advisory_lock(42)");
    await client.query("SELECT pg_advisory_unlock(42)");
  });
  await client.end();
  rows.push(row("postgres lock acquire+release, 1 client", oursPg, advisory, "pg_advisory_lock", 0.5));

  const hosts = ["127.0.0.1:2379", "127.0.0.1:22379", "127.0.0.1:32379"];
  const e = await connect(`etcd://${hosts.join(",")}?keyspace=${ks}`);
  const elock = e.lock("bench");
  await (await elock.acquire()).release();
  const oursEtcd = await loop(durationMs, async () => void (await (await elock.acquire()).release()));
  await e.close();
  const etcd = new Etcd3({ hosts: hosts.map((h) => `http://${h}`) });
  const theirs = await loop(durationMs, async () => {
    const l = etcd.lock(`${ks}-peer`).ttl(5);
    await l.acquire();
    await l.release();
  });
  await etcd.delete().prefix(ks);
  etcd.close();
  rows.push(row("etcd lock acquire+release, 3-member cluster", oursEtcd, theirs, "etcd3 Lock", 2));
  return rows;
}
