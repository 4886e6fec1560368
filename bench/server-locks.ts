import { Etcd3 } from "etcd3";
import pg from "pg";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

interface Sample {
  rate: number;
  p99: number;
}

/** Slices of each side in turn (which goes first alternates), so both see the same load on a shared machine. */
const SLICES = 10;
async function sideBySide(durationMs: number, ours: () => Promise<void>, theirs: () => Promise<void>): Promise<[Sample, Sample]> {
  const lat: [number[], number[]] = [[], []];
  const secs = [0, 0];
  for (let i = 0; i < SLICES; i++) {
    for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const op = side === 0 ? ours : theirs;
      const start = monotonicMs();
      while (monotonicMs() - start < durationMs / SLICES) {
        const t = monotonicMs();
        await op();
        lat[side]!.push(monotonicMs() - t);
      }
      secs[side]! += (monotonicMs() - start) / 1000;
    }
  }
  const sample = (side: 0 | 1): Sample => ({ rate: lat[side].length / secs[side]!, p99: percentile(lat[side], 99) });
  return [sample(0), sample(1)];
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
  const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
  await client.connect();
  const [oursPg, advisory] = await sideBySide(
    durationMs,
    async () => void (await (await plock.acquire()).release()),
    async () => {
      await client.query("SELECT pg_advisory_lock(42)");
      await client.query("SELECT pg_advisory_unlock(42)");
    },
  );
  await p.close();
  await client.end();
  rows.push(row("postgres lock acquire+release, 1 client", oursPg, advisory, "pg_advisory_lock", 0.5));

  const hosts = ["127.0.0.1:2379", "127.0.0.1:22379", "127.0.0.1:32379"];
  const e = await connect(`etcd://${hosts.join(",")}?keyspace=${ks}`);
  const elock = e.lock("bench");
  await (await elock.acquire()).release();
  const etcd = new Etcd3({ hosts: hosts.map((h) => `http://${h}`) });
  const [oursEtcd, theirs] = await sideBySide(
    durationMs,
    async () => void (await (await elock.acquire()).release()),
    async () => {
      const l = etcd.lock(`${ks}-peer`).ttl(5);
      await l.acquire();
      await l.release();
    },
  );
  await e.close();
  await etcd.delete().prefix(ks);
  etcd.close();
  rows.push(row("etcd lock acquire+release, 3-member cluster", oursEtcd, theirs, "etcd3 Lock", 2));
  return rows;
}

/** `npx tsx bench/server-locks.ts [ms]`: this benchmark alone. */
if (process.argv[1] !== undefined && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  for (const r of await benchServerLocks(Number(process.argv[2] ?? 3000))) {
    console.log(`${r.benchmark}: ${fmt(r.concord)} vs ${fmt(r.peer ?? Number.NaN)} ${r.unit} (${r.peerName}), ${fmt(r.ratio ?? Number.NaN, 2)}x; ${r.note ?? ""}`);
  }
  process.exit(0);
}
