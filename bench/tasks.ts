import { Queue, Worker as BullWorker } from "bullmq";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

interface TaskRun {
  perSec: number;
  p50: number;
  p99: number;
}

/** Submit `n` small tasks and process them with `concurrency` handlers; end-to-end latency per task. */
async function runConcord(url: string, n: number, concurrency: number): Promise<TaskRun> {
  const c = await connect(url);
  const q = c.tasks(`bench-${Date.now()}`);
  const lat: number[] = [];
  let finished = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const w = q.work({ noop: (p: { t: number }) => { lat.push(monotonicMs() - p.t); if (++finished === n) resolveAll(); } }, { concurrency });
  const start = monotonicMs();
  await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane; i < n; i += 8) await q.submit("noop", { t: monotonicMs() });
  }));
  await all;
  const elapsed = monotonicMs() - start;
  await w.close();
  await c.close();
  return { perSec: n / (elapsed / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function runBullmq(n: number, concurrency: number): Promise<TaskRun> {
  const name = `bench-${Date.now()}`;
  const connection = { host: "127.0.0.1", port: 6379 };
  const queue = new Queue(name, { connection });
  const lat: number[] = [];
  let finished = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = new BullWorker(name, async (job) => { lat.push(monotonicMs() - (job.data as { t: number }).t); if (++finished === n) resolveAll(); }, { connection, concurrency });
  const start = monotonicMs();
  await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane; i < n; i += 8) await queue.add("noop", { t: monotonicMs() }, { removeOnComplete: true });
  }));
  await all;
  const elapsed = monotonicMs() - start;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { perSec: n / (elapsed / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Task throughput on each engine URL given, beside BullMQ on the same Redis when Redis is among them. */
export async function benchTasks(engines: Array<[label: string, url: string]>, n: number, concurrency = 50): Promise<Row[]> {
  const bull = engines.some(([l]) => l === "redis") ? await runBullmq(n, concurrency) : undefined;
  const rows: Row[] = [];
  for (const [label, url] of engines) {
    const r = await runConcord(url, n, concurrency);
    const peer = label === "redis" ? bull : undefined;
    rows.push({
      benchmark: `tasks submit+process+complete, ${n} tasks, concurrency ${concurrency} (${label})`,
      unit: "tasks/s",
      concord: r.perSec,
      peer: peer?.perSec,
      peerName: peer ? "BullMQ" : "-",
      ratio: peer ? r.perSec / peer.perSec : undefined,
      target: label === "redis" ? ">= 0.5x BullMQ" : "report",
      met: peer ? r.perSec / peer.perSec >= 0.5 : true,
      note: `latency p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms${peer ? `; BullMQ p50 ${fmt(peer.p50, 1)} ms, p99 ${fmt(peer.p99, 1)} ms` : ""}`,
    });
  }
  return rows;
}

/** `npx tsx bench/tasks.ts [n] [engines]`: this benchmark alone, e.g. `npx tsx bench/tasks.ts 10000 redis,sqlite,postgres`. */
if (process.argv[1] !== undefined && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const n = Number(process.argv[2] ?? 10_000);
  const wanted = (process.argv[3] ?? "sqlite,redis,postgres").split(",");
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-tasks-"));
  const stamp = Date.now();
  const urls: Record<string, string> = {
    sqlite: `sqlite:${join(dir, "tasks.db")}`,
    redis: `redis://127.0.0.1:6379?keyspace=bench-${stamp}`,
    postgres: `postgres://postgres@127.0.0.1:5432/test?schema=bench_${stamp}`,
  };
  const rows = await benchTasks(wanted.map((l) => [l, urls[l]!] as [string, string]), n);
  rmSync(dir, { recursive: true, force: true });
  for (const r of rows) console.log(`${r.benchmark}: ${fmt(r.concord)} ${r.unit}${r.peer === undefined ? "" : ` vs ${fmt(r.peer)} (${r.peerName}), ${fmt(r.ratio!, 2)}x`}; ${r.note ?? ""}`);
  process.exit(0);
}
