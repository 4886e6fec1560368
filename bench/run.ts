/**
 * Runs every benchmark in one process, side by side with the peer a user would pick instead, and
 * prints a table of figures and ratios (and writes bench/results/latest.json).
 * Usage: npm run bench [-- --quick]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { benchHandoff } from "./handoff.js";
import { benchMemoryLock } from "./lock-memory.js";
import { fmt, type Row } from "./stats.js";
import { benchWatchLatency } from "./watch-latency.js";
import { benchTasks } from "./tasks.js";
import { benchTimeUncertainty } from "./time-uncertainty.js";

const quick = process.argv.includes("--quick");
const rows: Row[] = [];
rows.push(await benchMemoryLock(quick ? 500 : 3000));
rows.push(...(await benchHandoff(quick ? 1000 : 5000)));
rows.push(await benchWatchLatency(quick ? 100 : 1000));
const dir = mkdtempSync(join(tmpdir(), "concord-bench-"));
rows.push(...(await benchTasks([["sqlite", `sqlite:${join(dir, "tasks.db")}`]], quick ? 500 : 10_000)));
rows.push(await benchTimeUncertainty(`sqlite:${join(dir, "time.db")}`, "sqlite", quick ? 100 : 1000));
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
