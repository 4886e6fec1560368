/**
 * Runs every benchmark in one process, side by side with the peer a user would pick instead, and
 * prints a table of figures and ratios (and writes bench/results/latest.json).
 * Usage: npm run bench [-- --quick]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { benchHandoff, flatnessRows, runFlatness } from "./handoff.js";
import { failoverRows, runFailover } from "./failover.js";
import { benchMemoryLock } from "./lock-memory.js";
import { fmt, type Row } from "./stats.js";
import { benchWatchLatency } from "./watch-latency.js";
import { benchTasks } from "./tasks.js";
import { benchTimeUncertainty } from "./time-uncertainty.js";
import { benchRedis } from "./redis.js";
import { benchServerLocks } from "./server-locks.js";

const quick = process.argv.includes("--quick");
const rows: Row[] = [];
rows.push(await benchMemoryLock(quick ? 500 : 3000));
rows.push(...(await benchHandoff(quick ? 1000 : 5000)));
rows.push(await benchWatchLatency(quick ? 100 : 1000));
const dir = mkdtempSync(join(tmpdir(), "concord-bench-"));
const ks = `bench-${Date.now()}`;
const servers: Array<[string, string]> = [
  ["redis", `redis://127.0.0.1:6379?keyspace=${ks}`],
  ["postgres", `postgres://postgres@127.0.0.1:5432/test?schema=bench_${Date.now()}`],
  ["etcd", `etcd://127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379?keyspace=${ks}`],
];
rows.push(...(await benchRedis(quick ? 1000 : 3000)));
rows.push(...(await benchServerLocks(quick ? 1000 : 3000)));
const flatEngines: Array<[string, string]> = [["memory", `memory:${ks}`], ["sqlite", `sqlite:${join(dir, "flat.db")}`], ...servers];
rows.push(...flatnessRows(await runFlatness({ engines: flatEngines, sizes: quick ? [1, 100] : [1, 10, 100, 1000], handoffs: quick ? 50 : 150, processes: 4 })));
rows.push(...failoverRows(await runFailover(["sqlite", "redis", "postgres", "etcd", "etcd3"], quick ? 2 : 5)));
rows.push(...(await benchTasks([["sqlite", `sqlite:${join(dir, "tasks.db")}`], ["redis", servers[0]![1]], ["postgres", servers[1]![1]]], quick ? 500 : 10_000)));
for (const [label, url] of [["sqlite", `sqlite:${join(dir, "time.db")}`] as [string, string], ...servers]) {
  rows.push(await benchTimeUncertainty(url, label, quick ? 50 : 300));
}
rmSync(dir, { recursive: true, force: true });

const table = [
  "| benchmark | concord | peer | ratio | target | met |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows.map((r) => {
    const d = r.unit === "ms" ? 2 : 0;
    return `| ${r.benchmark} | ${fmt(r.concord, d)} ${r.unit} | ${r.peer === undefined ? "-" : `${fmt(r.peer, d)} ${r.unit} (${r.peerName})`} | ${r.ratio === undefined ? "-" : `${fmt(r.ratio, 2)}x`} | ${r.target} | ${r.met ? "yes" : "NO"} |`;
  }),
];
console.log(`Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"})\n`);
console.log(table.join("\n"));
for (const r of rows) if (r.note) console.log(`- ${r.benchmark}: ${r.note}`);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/latest.json", import.meta.url), `${JSON.stringify({ node: process.version, quick, rows }, null, 2)}\n`);
