import { Queue, Worker as BullWorker } from "bullmq";
import { Redis } from "ioredis";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

export interface TaskRun {
  perSec: number;
  p50: number;
  p99: number;
  /** CPU time of this process (submitters, workers and client library together) per task, in µs. */
  clientCpuUs: number;
  /** CPU time of the Redis server per task, in µs (Redis runs only); it counts every client of that server. */
  serverCpuUs?: number | undefined;
}

const REDIS = { host: "127.0.0.1", port: 6379 };

/** The Redis server's CPU seconds so far (user + system), from INFO. */
async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info("cpu");
  const field = (k: string): number => Number(new RegExp(`^${k}:([0-9.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Runs `body` (which processes `n` tasks) and measures this process's CPU, and the Redis server's when `redis` is given. */
async function measured(n: number, redis: Redis | undefined, body: () => Promise<Omit<TaskRun, "clientCpuUs" | "serverCpuUs">>): Promise<TaskRun> {
  const s0 = redis ? await redisCpu(redis) : 0;
  const c0 = process.cpuUsage();
  const r = await body();
  const c = process.cpuUsage(c0);
  const s1 = redis ? await redisCpu(redis) : 0;
  return { ...r, clientCpuUs: (c.user + c.system) / n, serverCpuUs: redis ? ((s1 - s0) * 1e6) / n : undefined };
}

/**
 * `n` tasks end to end: `startWorker(onTask)` starts a worker that calls `onTask` with each task's
 * submit time; 8 submitters `submit(now)` the tasks; the rate counts until the last one is processed.
 */
async function endToEnd(
  n: number,
  startWorker: (onTask: (submittedAt: number) => void) => { close(): Promise<unknown> },
  submit: (now: number) => Promise<unknown>,
): Promise<Omit<TaskRun, "clientCpuUs" | "serverCpuUs">> {
  const lat: number[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = startWorker((t) => {
    lat.push(monotonicMs() - t);
    if (lat.length === n) resolveAll();
  });
  const start = monotonicMs();
  await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane; i < n; i += 8) await submit(monotonicMs());
  }));
  await all;
  const elapsed = monotonicMs() - start;
  await worker.close();
  return { perSec: n / (elapsed / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Submit `n` small tasks (8 submitters) and process them with `concurrency` handlers; end-to-end latency per task. */
export async function runConcord(url: string, n: number, concurrency: number, redis?: Redis): Promise<TaskRun> {
  const c = await connect(url);
  const q = c.tasks(`bench-${Date.now()}`);
  try {
    return await measured(n, redis, () =>
      endToEnd(
        n,
        (onTask) => q.work({ noop: (p: { t: number }) => onTask(p.t) }, { concurrency }),
        (t) => q.submit("noop", { t }),
      ),
    );
  } finally {
    await c.close();
    if (redis) await dropKeyspace(redis, url);
  }
}

/** Deletes a Redis keyspace the run made (its 10,000 task records would be kept for a day), so runs do not pile up. */
async function dropKeyspace(redis: Redis, url: string): Promise<void> {
  const ks = new URL(url).searchParams.get("keyspace");
  if (!ks) return;
  for await (const keys of redis.scanStream({ match: `concord:{${ks}}*`, count: 1000 })) {
    if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
  }
}

/** The same workload on BullMQ (jobs removed on completion, as a task queue would be run). */
export async function runBullmq(n: number, concurrency: number, redis?: Redis): Promise<TaskRun> {
  const name = `bench-${Date.now()}`;
  const queue = new Queue(name, { connection: REDIS });
  try {
    return await measured(n, redis, () =>
      endToEnd(
        n,
        (onTask) => new BullWorker(name, async (job) => onTask((job.data as { t: number }).t), { connection: REDIS, concurrency }),
        (t) => queue.add("noop", { t }, { removeOnComplete: true }),
      ),
    );
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const describe = (r: TaskRun): string =>
  `${fmt(r.perSec)} tasks/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, client CPU ${fmt(r.clientCpuUs)} µs/task${r.serverCpuUs === undefined ? "" : `, redis CPU ${fmt(r.serverCpuUs)} µs/task`}`;

/**
 * Concord beside BullMQ on the same Redis, in alternating order (round 1 BullMQ first, round 2
 * Concord first, …) after a short unreported warm-up of both, so that neither side always runs on
 * a colder process or a busier machine. Each round is reported; the ratio is the median of the
 * rounds' ratios.
 */
async function redisRounds(url: (round: number) => string, n: number, concurrency: number, rounds: number): Promise<{ concord: TaskRun[]; bull: TaskRun[]; ratios: number[] }> {
  const info = new Redis({ ...REDIS, lazyConnect: true });
  await info.connect();
  try {
    const warm = Math.min(n, 1000);
    await runBullmq(warm, concurrency);
    await runConcord(url(0), warm, concurrency);
    const concord: TaskRun[] = [];
    const bull: TaskRun[] = [];
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      let b: TaskRun;
      let c: TaskRun;
      if (round % 2 === 1) {
        b = await runBullmq(n, concurrency, info);
        c = await runConcord(url(round), n, concurrency, info);
      } else {
        c = await runConcord(url(round), n, concurrency, info);
        b = await runBullmq(n, concurrency, info);
      }
      concord.push(c);
      bull.push(b);
      ratios.push(c.perSec / b.perSec);
    }
    return { concord, bull, ratios };
  } finally {
    info.disconnect();
  }
}

/**
 * Task throughput on each engine URL given; on Redis beside BullMQ on the same server, in
 * `rounds` alternating rounds (the row then gives the medians, the note every round).
 */
export async function benchTasks(engines: Array<[label: string, url: string]>, n: number, concurrency = 50, rounds = 2): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, url] of engines) {
    const benchmark = `tasks submit+process+complete, ${n} tasks, concurrency ${concurrency} (${label})`;
    if (label !== "redis") {
      const r = await runConcord(url, n, concurrency);
      rows.push({ benchmark, unit: "tasks/s", concord: r.perSec, peer: undefined, peerName: "-", ratio: undefined, target: "report", met: true, note: describe(r) });
      continue;
    }
    // A keyspace of its own for every run, so no run reads what an earlier one left behind.
    const { concord, bull, ratios } = await redisRounds((round) => url.replace(/keyspace=([^&]*)/, `keyspace=$1-r${round}`), n, concurrency, rounds);
    const ratio = median(ratios);
    rows.push({
      benchmark,
      unit: "tasks/s",
      concord: median(concord.map((r) => r.perSec)),
      peer: median(bull.map((r) => r.perSec)),
      peerName: "BullMQ",
      ratio,
      target: ">= 0.5x BullMQ",
      met: ratio >= 0.5,
      note: concord.map((c, i) => `round ${i + 1} (${i % 2 === 0 ? "BullMQ first" : "Concord first"}): Concord ${describe(c)}; BullMQ ${describe(bull[i]!)}; ratio ${fmt(ratios[i]!, 2)}x`).join(" | "),
    });
  }
  return rows;
}

/**
 * `npx tsx bench/tasks.ts [n] [engines] [rounds]`: this benchmark alone, e.g.
 * `npx tsx bench/tasks.ts 10000 redis 2` (Concord and BullMQ alternating, 2 rounds each) or
 * `npx tsx bench/tasks.ts 10000 sqlite,postgres`.
 */
if (process.argv[1] !== undefined && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const n = Number(process.argv[2] ?? 10_000);
  const wanted = (process.argv[3] ?? "sqlite,redis,postgres").split(",");
  const rounds = Number(process.argv[4] ?? 2);
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-tasks-"));
  const stamp = Date.now();
  const urls: Record<string, string> = {
    sqlite: `sqlite:${join(dir, "tasks.db")}`,
    redis: `redis://127.0.0.1:6379?keyspace=bench-${stamp}`,
    postgres: `postgres://postgres@127.0.0.1:5432/test?schema=bench_${stamp}`,
  };
  const rows = await benchTasks(wanted.map((l) => [l, urls[l]!] as [string, string]), n, 50, rounds);
  rmSync(dir, { recursive: true, force: true });
  for (const r of rows) {
    console.log(`${r.benchmark}: ${fmt(r.concord)} ${r.unit}${r.peer === undefined ? "" : ` vs ${fmt(r.peer)} (${r.peerName}), ${fmt(r.ratio!, 2)}x (medians)`}`);
    for (const part of (r.note ?? "").split(" | ")) console.log(`  ${part}`);
  }
  process.exit(0);
}
